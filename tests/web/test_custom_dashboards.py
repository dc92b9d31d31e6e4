"""Custom dashboards in a real Chromium (Debian's, driven by Playwright) over a real server.

A dashboard is built from scratch by clicking, saved, reloaded, shared to a read-only key and
exported and imported again; every widget's figures are the API's answer to the very call the
widget made (its `data-query`), and the numbers are checked once more against numpy over the
random calls the test sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from tests.conftest import iso
from tests.web.test_dashboard import ARTIFACTS, CHROMIUM, Tab
from tests.web.test_dashboard import browser as browser  # the module's browser fixture

pytest.importorskip("playwright.sync_api")

PROJECT = "custom-dash"
MODELS = ("m-fast", "m-mid", "m-slow")
PROMPTS = ("alpha", "beta", "gamma", "delta")
ENVIRONMENTS = ("prod", "staging")
# What the test clicks together: (type, metric, more metrics, dimension).
BUILD = [
    ("number", "requests", [], None),
    ("number", "latency_p95_ms", [], None),
    ("number", "error_rate", [], None),
    ("line", "requests", ["errors"], None),
    ("donut", "cost_usd", [], "model"),
    ("table", "requests", ["latency_p50_ms", "cost_usd"], "prompt_id"),
    ("stacked", "requests", [], "environment"),
    ("pivot", "tokens", [], "model"),
]
SERIES = "el => echarts.getInstanceByDom(el.querySelector('[data-chart]')).getOption().series"


@pytest.fixture(scope="module")
def world(live) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Random calls over the last three hours, and what numpy makes of them."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    rng = np.random.default_rng(15)
    now = datetime.now(UTC)
    n = 400
    ages = rng.uniform(1, 170, n)  # minutes ago
    latency = np.round(rng.lognormal(6, 0.8, n), 1)
    failed = rng.random(n) < 0.08
    events = [
        {
            "id": f"cd{i}",
            "timestamp": iso(now - timedelta(minutes=float(ages[i]))),
            "prompt_id": PROMPTS[int(rng.integers(len(PROMPTS)))],
            "model": MODELS[int(rng.integers(len(MODELS)))],
            "environment": ENVIRONMENTS[int(rng.integers(len(ENVIRONMENTS)))],
            "latency_ms": float(latency[i]),
            "input_tokens": int(rng.integers(10, 2000)),
            "output_tokens": int(rng.integers(1, 500)),
            "cost_usd": float(np.round(rng.uniform(0.0001, 0.02), 6)),
            "status": "error" if failed[i] else "success",
            **({"error_type": "timeout"} if failed[i] else {}),
        }
        for i in range(n)
    ]
    key = live.key(PROJECT, "ingest,read")
    with live.client(key) as c:
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 200 and r.json()["accepted"] == n, r.text
    return {
        "events": events,
        "writer": live.key(PROJECT, "read,admin"),
        "reader": live.key(PROJECT, "read"),
    }


@pytest.fixture(scope="module")
def tabs(browser, live, world) -> Iterator[dict[str, Tab]]:  # type: ignore[no-untyped-def]
    size = {"viewport": {"width": 1500, "height": 1000}, "accept_downloads": True}
    made = {
        "writer": Tab(browser, live.url, world["writer"], **size),
        "reader": Tab(browser, live.url, world["reader"], **size),
    }
    yield made
    for t in made.values():
        t.close()


def _ready(tab: Tab, count: int) -> None:
    tab.page.wait_for_function(
        "n => document.body.dataset.state === 'ready' && "
        "document.querySelectorAll('[data-widget][data-drawn], [data-widget][data-error]')"
        ".length === n",
        arg=count,
        timeout=30_000,
    )


def _add(tab: Tab, kind: str, metric: str, more: list[str], dimension: str | None) -> None:
    page = tab.page
    before = page.locator("[data-widget]").count()
    page.click("[data-action=add-widget]")
    form = page.locator("form[data-form=widget]")
    form.locator("select[name=type]").select_option(kind)
    form.locator("select[name=metric]").select_option(metric)
    if more:
        form.locator("select[name=metrics-extra]").select_option(more)
    if dimension:
        form.locator("select[name=dimension]").select_option(dimension)
    form.locator("input[name=title]").fill(f"{kind}: {metric}")
    form.locator("[data-action=save-widget]").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-widget]').length === n", arg=before + 1
    )


def _api(live, key: str, query: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with live.client(key) as c:
        r = c.get(query)
    assert r.status_code == 200, (query, r.text)
    return dict(r.json())


def _value(raw: str) -> float | None:
    return None if raw == "" else float(raw)


def check_against_api(tab: Tab, live, key: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every widget's figures are the API's answer to the widget's own call. Per widget id: its
    type, query and the numbers it shows."""
    page = tab.page
    seen: dict[str, dict[str, Any]] = {}
    for el in page.locator("[data-widget]").all():
        wid, kind, query = (el.get_attribute(a) for a in ("data-widget", "data-type", "data-query"))
        assert wid and kind and query and el.get_attribute("data-error") is None, (wid, query)
        answer = _api(live, key, query)
        params = parse_qs(urlparse(query).query)
        metrics = params["metrics"][0].split(",")
        info: dict[str, Any] = {"type": kind, "query": query, "params": params}
        if kind == "number":
            metric = el.get_attribute("data-metric")
            shown = _value(el.get_attribute("data-value") or "")
            assert shown == answer["rows"][0][metric], (metric, shown, answer)
            info["value"] = shown
        elif kind in ("line", "stacked"):
            series = el.evaluate(SERIES)
            drawn = {
                s["name"]: [_num(v) for v in s["data"]] for s in series if "partialOf" not in s
            }
            if kind == "line":
                points = answer["series"][0]["points"]
                api = {m: [p[m] for p in points] for m in metrics}
            else:
                api = {s["group"]: [p[metrics[0]] for p in s["points"]] for s in answer["series"]}
            _same_series(drawn, api)
            info["series"] = api
        elif kind == "donut":
            (pie,) = el.evaluate(SERIES)
            drawn = {d["name"]: d["value"] for d in pie["data"]}
            assert drawn == {r["model"]: r[metrics[0]] for r in answer["rows"]}
            info["rows"] = answer["rows"]
        elif kind in ("table", "pivot"):
            cells = el.locator("td[data-value]").evaluate_all(
                "tds => tds.map(td => [td.closest('tr').dataset.row, td.dataset.key,"
                " td.dataset.value])"
            )
            if kind == "table":
                by = params["by"][0]
                api_cells = {(r[by], m): r[m] for r in answer["rows"] for m in metrics}
            else:
                api_cells = {
                    (s["group"], p["t"]): p[metrics[0]]
                    for s in answer["series"]
                    for p in s["points"]
                }
            assert cells and len(cells) == len(api_cells)
            for row, col, raw in cells:
                assert _value(raw) == api_cells[(row, col)], (wid, row, col, raw)
            info["cells"] = {(row, col): _value(raw) for row, col, raw in cells}
        seen[wid] = info
    return seen


def _num(v: Any) -> Any:
    return v["value"] if isinstance(v, dict) else v


def _same_series(drawn: dict[str, list[Any]], api: dict[str, list[Any]]) -> None:
    assert set(drawn) == set(api), (drawn.keys(), api.keys())
    for name, values in api.items():
        # the last bucket is drawn apart when partial (charts.js): its value is in the overlay
        got = drawn[name]
        assert len(got) == len(values)
        assert all(g == v or g is None for g, v in zip(got, values, strict=True)), name


def _inside(world: dict[str, Any], params: dict[str, list[str]]) -> list[dict[str, Any]]:
    start, end = (
        datetime.fromisoformat(params[k][0].replace("Z", "+00:00")) for k in ("from", "to")
    )
    return [
        e
        for e in world["events"]
        if start <= datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) < end
    ]


def _figures(calls: list[dict[str, Any]]) -> dict[str, float]:
    """The figures the dashboard shows, computed here (numpy's percentile definition)."""
    latencies = np.array([e["latency_ms"] for e in calls])
    return {
        "requests": len(calls),
        "latency_p95_ms": float(np.percentile(latencies, 95)),
        "latency_p50_ms": float(np.percentile(latencies, 50)),
        "error_rate": sum(e["status"] == "error" for e in calls) / len(calls),
        "cost_usd": float(np.sum([e["cost_usd"] for e in calls])),
    }


def check_against_numpy(world: dict[str, Any], seen: dict[str, dict[str, Any]]) -> None:
    """The numbers and the table once more, from the calls the test sent."""
    numbers = [i for i in seen.values() if i["type"] == "number"]
    assert len(numbers) == 3
    for info in numbers:
        metric = info["params"]["metrics"][0].split(",")[0]
        expected = _figures(_inside(world, info["params"]))[metric]
        assert math.isclose(info["value"], expected, rel_tol=1e-9), (metric, info, expected)
    (table,) = [i for i in seen.values() if i["type"] == "table"]
    inside = _inside(world, table["params"])
    for (prompt, metric), shown in table["cells"].items():
        expected = _figures([e for e in inside if e["prompt_id"] == prompt])[metric]
        assert math.isclose(shown, expected, rel_tol=1e-9), (prompt, metric, shown, expected)
    assert {p for p, _ in table["cells"]} == {e["prompt_id"] for e in inside}


def test_build_save_reload_share_read_only_export_import(tabs, live, world) -> None:  # type: ignore[no-untyped-def]
    writer, reader = tabs["writer"], tabs["reader"]
    page = writer.open("/dashboards")
    assert page.locator("nav a[data-nav='/dashboards']").count() == 1
    page.click("[data-action=new-dashboard]")
    page.fill("input[name=dashboard-name]", "Built by clicking")
    page.click("[data-action=create-dashboard]")
    page.wait_for_selector("[data-action=add-widget]")
    board_id = urlparse(page.url).path.rsplit("/", 1)[1]
    assert board_id.startswith("dsh_")
    for kind, metric, more, dimension in BUILD:
        _add(writer, kind, metric, more, dimension)
    _add(writer, "bar", "errors", [], None)  # one too many: removed again
    page.locator("[data-widget]").last.locator("[data-action=remove-widget]").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-widget]').length === n", arg=len(BUILD)
    )
    page.locator("[data-widget][data-type=donut] [data-action=edit-widget]").click()
    page.locator("form[data-form=widget] input[name=title]").fill("Spend by model")
    page.locator("form[data-form=widget] [data-action=save-widget]").click()
    page.wait_for_selector("[data-widget][data-type=donut] h2:text-is('Spend by model')")
    first = page.locator("[data-widget]").first
    first_id = first.get_attribute("data-widget")
    first.locator("[data-action=wider]").click()  # 3 -> 4 columns
    page.locator("[data-widget]").nth(1).locator("[data-action=move-down]").click()
    page.click("[data-action=save]")
    page.wait_for_selector(".dash-grid[data-saved]")
    assert writer.errors == []

    stored = _api(live, world["reader"], f"/v1/dashboards/{board_id}")
    assert [(w["type"], w.get("metric") or w["metrics"][0]) for w in stored["widgets"]] == [
        (b[0], b[1]) for b in BUILD
    ]
    assert stored["widgets"][0]["position"]["w"] == 4 and stored["widgets"][0]["id"] == first_id
    # wider pushed the second number down below the first (y 2), and "move down" took it to 3
    assert stored["widgets"][1]["position"] == {"x": 3, "y": 3, "w": 3, "h": 2}
    assert stored["widgets"][2]["position"] == {"x": 6, "y": 0, "w": 3, "h": 2}
    boxes = [w["position"] for w in stored["widgets"]]
    for i, a in enumerate(boxes):  # whatever was in the way moved down: nothing overlaps
        for b in boxes[i + 1 :]:
            apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
            assert apart or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"], (a, b)
    assert stored["widgets"][3]["metrics"] == ["requests", "errors"]
    assert stored["widgets"][4]["title"] == "Spend by model"

    # reload: the saved dashboard, the same widgets, the API's figures
    writer.open(f"/dashboards/{board_id}")
    _ready(writer, len(BUILD))
    ids = page.locator("[data-widget]").evaluate_all("els => els.map(e => e.dataset.widget)")
    assert ids == [w["id"] for w in stored["widgets"]]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "custom-dashboard.png"), full_page=True)
    seen = check_against_api(writer, live, world["writer"])
    check_against_numpy(world, seen)

    # share: the link (with the page's range) opened with a read-only key: no edit controls
    page.click("[data-action=share]")
    link = page.locator("input[name=share-url]").input_value()
    assert f"/dashboards/{board_id}?" in link and "range=" in link
    view = reader.open(urlparse(link).path + "?" + urlparse(link).query)
    _ready(reader, len(BUILD))
    assert view.locator("[data-readonly=true]").count() == 1
    for control in ("edit", "add-widget", "save", "delete-dashboard", "wider", "move-down"):
        assert view.locator(f"[data-action={control}]").count() == 0, control
    check_against_numpy(world, check_against_api(reader, live, world["reader"]))
    listing = reader.open("/dashboards")
    assert listing.locator(f"tr[data-dashboard={board_id}]").count() == 1
    assert listing.locator("[data-action=new-dashboard], [data-action=import]").count() == 0
    view = reader.open(urlparse(link).path + "?" + urlparse(link).query)
    _ready(reader, len(BUILD))
    view.screenshot(path=str(ARTIFACTS / "custom-dashboard-read-only.png"), full_page=True)
    assert reader.errors == []

    # export, then import: the same dashboard again
    with page.expect_download() as download:
        page.click("[data-action=export]")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported == {
        k: v
        for k, v in stored.items()
        if k not in ("id", "project", "created_by", "created_at", "updated_at")
    }
    writer.open("/dashboards")
    page.click("[data-action=import]")
    page.fill("textarea[name=dashboard-json]", json.dumps(exported))
    page.click("[data-action=import-dashboard]")
    page.wait_for_function(
        "id => location.pathname.startsWith('/dashboards/dsh_') && !location.pathname.endsWith(id)",
        arg=board_id,
    )
    _ready(writer, len(BUILD))
    copy_id = urlparse(page.url).path.rsplit("/", 1)[1]
    copy = _api(live, world["reader"], f"/v1/dashboards/{copy_id}")
    assert copy["widgets"] == stored["widgets"] and copy["name"] == stored["name"]
    assert writer.errors == []


def test_a_bad_import_says_why_and_saves_nothing(tabs, live, world) -> None:  # type: ignore[no-untyped-def]
    writer = tabs["writer"]
    before = _api(live, world["reader"], "/v1/dashboards")["dashboards"]
    page = writer.open("/dashboards")
    future = {"version": 9, "name": "from the future", "widgets": [{"type": "hologram"}]}
    at = {"x": 0, "y": 0, "w": 3, "h": 2}
    unknown = {"version": 1, "name": "typo", "widgets": [
        {"id": "a", "type": "number", "metric": "requests", "position": at},
        {"id": "b", "type": "line", "metric": "latency_p96_ms", "position": {**at, "x": 3}},
    ]}  # fmt: skip
    for body, says in (
        (future, "version 9 is from a newer PromptPulse"),
        (unknown, "widgets[1].metric"),
    ):
        page.click("[data-action=import]")
        page.fill("textarea[name=dashboard-json]", json.dumps(body))
        page.click("[data-action=import-dashboard]")
        page.wait_for_function("() => document.querySelector('[data-error]').textContent !== ''")
        assert says in page.locator("[data-error]").text_content()
        writer.errors.clear()  # the refused request is logged by the browser; it is expected
        page.evaluate("document.querySelector('[data-error]').textContent = ''")
    assert _api(live, world["reader"], "/v1/dashboards")["dashboards"] == before


def test_a_widget_is_dragged_to_a_grid_cell(tabs, live, world) -> None:  # type: ignore[no-untyped-def]
    at = {"x": 0, "y": 0, "w": 3, "h": 2}
    body = {"name": "drag", "widgets": [
        {"id": "a", "type": "number", "metric": "requests", "position": at},
        {"id": "b", "type": "number", "metric": "errors", "position": {**at, "x": 3}},
    ]}  # fmt: skip
    with live.client(world["writer"]) as c:
        made = c.post("/v1/dashboards", json=body).json()
    tab = tabs["writer"]
    page = tab.open(f"/dashboards/{made['id']}?range=1h")
    _ready(tab, 2)
    page.click("[data-action=edit]")
    page.wait_for_selector("[data-widget=b][draggable=true]")
    box = page.locator(".dash-grid").bounding_box()
    assert box is not None
    column = (box["width"] + 16) / 12
    page.drag_and_drop(
        "[data-widget=b]",
        ".dash-grid",
        target_position={"x": column * 8 + column / 2, "y": (72 + 16) * 3 + 30},
    )
    page.click("[data-action=add-widget]")  # a table by a metadata key
    form = page.locator("form[data-form=widget]")
    form.locator("select[name=type]").select_option("table")
    form.locator("select[name=dimension]").select_option("metadata.")
    form.locator("input[name=dimension-metadata]").fill("team")
    form.locator("[data-action=save-widget]").click()
    page.wait_for_selector("[data-widget][data-type=table][data-drawn]")
    page.click("[data-action=save]")
    page.wait_for_selector(".dash-grid[data-saved]")
    stored = _api(live, world["reader"], f"/v1/dashboards/{made['id']}")
    assert [w["position"] for w in stored["widgets"][:2]] == [
        at,
        {"x": 8, "y": 3, "w": 3, "h": 2},
    ]
    assert stored["widgets"][2]["dimension"] == "metadata.team"
    assert tab.errors == []


@pytest.mark.parametrize("kind", ["heatmap", "histogram"])
def test_heatmap_and_histogram_widgets(tabs, live, world, kind: str) -> None:  # type: ignore[no-untyped-def]
    widget = {"id": kind, "type": kind, "position": {"x": 0, "y": 0, "w": 6, "h": 5}}
    widget.update(
        {"metric": "requests"} if kind == "heatmap" else {"field": "latency_ms", "bins": 20}
    )
    with live.client(world["writer"]) as c:
        made = c.post("/v1/dashboards", json={"name": kind, "widgets": [widget]}).json()
    tab = tabs["reader"]
    tab.open(f"/dashboards/{made['id']}?range=24h")
    _ready(tab, 1)
    el = tab.page.locator(f"[data-widget={kind}]")
    assert el.get_attribute("data-error") is None
    answer = _api(live, world["reader"], el.get_attribute("data-query") or "")
    (series,) = el.evaluate(SERIES)
    if kind == "histogram":
        assert [_num(v) for v in series["data"]] == [b["count"] for b in answer["bins"]]
        assert answer["count"] == sum(b["count"] for b in answer["bins"])
    else:
        drawn = sorted((d[1], d[0], d[2]) for d in series["data"])
        assert drawn == sorted((c["weekday"], c["hour"], c["requests"]) for c in answer["cells"])
