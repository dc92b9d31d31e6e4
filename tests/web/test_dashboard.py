"""The dashboard in a real Chromium (Debian's, driven by Playwright) over a real server.

One browser per module; pages are reused. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import iso

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = {
    "overview": "/",
    "prompts": "/prompts",
    "prompt": "/prompts/beta",
    "compare": "/compare",
    "cost": "/cost",
    "errors": "/errors",
}
OVERVIEW_KPIS = {
    "requests": lambda o: o["requests"],
    "success_rate": lambda o: o["success_rate"],
    "latency_p95_ms": lambda o: o["latency_ms"]["p95"],
    "cost_usd": lambda o: o["cost_usd"]["total"],
    "tokens": lambda o: o["tokens"]["total"],
    "active_users": lambda o: o["active_users"],
}
DRAWN = """() => [...document.querySelectorAll('[data-chart]')].map(el => {
  const c = el.querySelector('canvas');
  if (!c || !c.width) return [el.dataset.chart, 0];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return [el.dataset.chart, n];
})"""


def _calls(now: datetime) -> list[dict[str, Any]]:
    """A small known world: three prompts on three models, errors with messages, older calls."""
    out: list[dict[str, Any]] = []

    def add(n: int, minutes_ago: float, **f: Any) -> None:
        for i in range(n):
            out.append(
                {
                    "id": f"e{len(out)}",
                    "timestamp": iso(now - timedelta(minutes=minutes_ago + i)),
                    "user_id": f"u{i % 4}",
                    "input_tokens": 100 + i,
                    "output_tokens": 20 + i,
                    **f,
                }
            )

    add(
        30,
        2,
        prompt_id="alpha",
        prompt_version="v1",
        model="m-fast",
        latency_ms=120,
        cost_usd=0.001,
    )
    add(
        20,
        3,
        prompt_id="alpha",
        prompt_version="v2",
        model="m-fast",
        latency_ms=150,
        cost_usd=0.001,
    )
    add(25, 4, prompt_id="beta", prompt_version="v1", model="m-slow", latency_ms=900, cost_usd=0.02)
    add(8, 5, prompt_id="gamma", prompt_version="v1", model="m-mid", latency_ms=400, cost_usd=0.005)
    add(
        2,
        6,
        prompt_id="gamma",
        prompt_version="v1",
        model="m-mid",
        latency_ms=30000,
        cost_usd=0.005,
        status="error",
        error_type="timeout",
        error_message="upstream timed out",
        http_status=504,
    )
    add(
        3,
        7,
        prompt_id="alpha",
        prompt_version="v2",
        model="m-fast",
        latency_ms=80,
        cost_usd=0.001,
        status="error",
        error_type="rate_limit",
        error_message="429 slow down",
        http_status=429,
    )
    add(
        10,
        180,
        prompt_id="alpha",
        prompt_version="v1",
        model="m-fast",
        latency_ms=110,
        cost_usd=0.001,
    )  # older than an hour: 1h and 24h differ
    return out


@pytest.fixture(scope="module")
def world(live) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    project = "dash"
    key = live.key(project, "ingest,read")
    now = datetime.now(UTC)
    with live.client(key) as c:
        r = c.post("/v1/events", json={"events": _calls(now)})
        assert r.status_code == 200, r.text
        catalog = {m["name"]: m for m in c.get("/v1/metrics/catalog").json()["metrics"]}
    return {"key": key, "project": project, "catalog": catalog}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Tab:
    """One signed-in tab that records console errors."""

    def __init__(self, browser: Any, url: str, key: str | None, **context: Any) -> None:
        self.url = url
        self.context = browser.new_context(**context)
        if key:
            self.context.add_init_script(f"sessionStorage.setItem('pp-key', {key!r})")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> Any:
        self.page.goto(self.url + path)
        self.page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        return self.page

    def updates(self) -> int:
        return int(self.page.evaluate("+(document.body.dataset.updates || 0)"))

    def wait_update(self, after: int) -> None:
        self.page.wait_for_function(
            "n => document.body.dataset.state === 'ready' && +document.body.dataset.updates > n",
            arg=after,
            timeout=30_000,
        )

    def kpis(self) -> dict[str, str]:
        return dict(
            self.page.eval_on_selector_all(
                "[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value])"
            )
        )

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlparse(self.page.url).query)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def tab(browser, live, world) -> Iterator[Tab]:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, world["key"], viewport={"width": 1400, "height": 900})
    yield t
    t.close()


def _same(shown: str, expected: float | None) -> bool:
    if expected is None:
        return shown == ""
    return math.isclose(float(shown), expected, rel_tol=0, abs_tol=0) or float(shown) == expected


def _check_overview_kpis(tab: Tab, live, key: str, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with live.client(key) as c:
        o = c.get("/v1/metrics/overview", params=params).json()
    shown = tab.kpis()
    assert set(OVERVIEW_KPIS) <= set(shown)
    for metric, pick in OVERVIEW_KPIS.items():
        assert _same(shown[metric], pick(o)), (metric, shown[metric], pick(o))
    return o


def test_no_data_without_signing_in(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, None, viewport={"width": 1200, "height": 800})
    try:
        requests: list[str] = []
        t.page.on("request", lambda r: requests.append(r.url))
        t.page.goto(live.url + "/cost")
        t.page.wait_for_selector("input[name=api_key]")
        assert not [u for u in requests if "/v1/" in u]
        assert t.page.locator("[data-metric]").count() == 0
        t.page.fill("input[name=api_key]", "pp_not-a-key")
        t.page.click("button[type=submit]")
        t.page.wait_for_selector("text=unknown or revoked")
        t.errors.clear()  # the browser logs the refused request; that one is expected
        t.page.fill("input[name=api_key]", world["key"])
        t.page.click("button[type=submit]")
        t.page.wait_for_selector("body[data-state=ready]")
        assert t.page.evaluate("sessionStorage.getItem('pp-key')") == world["key"]
        assert t.page.locator("[data-metric=cost_usd]").count() == 1
        t.page.click("[data-action=signout]")
        t.page.wait_for_selector("input[name=api_key]")
        assert t.page.evaluate("sessionStorage.getItem('pp-key')") is None
        assert t.errors == []
    finally:
        t.close()


def test_kpis_are_the_apis_figures_for_the_same_range(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    window = {"from": iso(now - timedelta(hours=2)), "to": iso(now + timedelta(minutes=1))}
    tab.open(f"/?from={window['from']}&to={window['to']}")
    o = _check_overview_kpis(tab, live, world["key"], window)
    assert o["requests"] == 88
    # a preset: the page says which range it resolved, and the figures are the API's for it
    tab.open("/?range=24h")
    main = tab.page.locator("main")
    resolved = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}
    o = _check_overview_kpis(tab, live, world["key"], resolved)
    assert o["requests"] == 98
    assert tab.errors == []


def test_range_and_filter_change_url_cards_and_charts(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    volume = (
        "echarts.getInstanceByDom(document.querySelector('[data-chart=requests]'))"
        ".getOption().series[0].data"
    )
    before_cards, before_chart = tab.kpis(), page.evaluate(volume)
    n = tab.updates()
    page.click("[data-range='1h']")
    tab.wait_update(n)
    assert tab.query()["range"] == ["1h"]
    after_cards, after_chart = tab.kpis(), page.evaluate(volume)
    assert float(after_cards["requests"]) == 88 and float(before_cards["requests"]) == 98
    assert after_chart != before_chart and len(after_chart) != len(before_chart)
    main = page.locator("main")
    resolved = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}
    _check_overview_kpis(tab, live, world["key"], resolved)

    n = tab.updates()
    page.select_option("select[name=filter-dim]", "prompt_id")
    page.wait_for_selector("select[name=filter-value] option[value=beta]", state="attached")
    page.select_option("select[name=filter-value]", "beta")
    tab.wait_update(n)
    assert tab.query()["prompt_id"] == ["beta"]
    assert page.locator("[data-filter=prompt_id][data-filter-value=beta]").count() == 1
    filtered = tab.kpis()
    assert float(filtered["requests"]) == 25
    assert sum(page.evaluate(volume)) == 25
    resolved = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "prompt_id": "beta",
    }
    _check_overview_kpis(tab, live, world["key"], resolved)
    # the URL alone reproduces the view
    link = page.url
    tab.open(urlparse(link).path + "?" + urlparse(link).query)
    assert float(tab.kpis()["requests"]) == 25
    n = tab.updates()
    page.click("[data-action=clear-filters]")
    tab.wait_update(n)
    assert "prompt_id" not in tab.query()
    assert tab.errors == []


def test_live_mode_shows_a_new_call_within_5_seconds(browser, live) -> None:  # type: ignore[no-untyped-def]
    key = live.key("dash-live", "ingest,read")
    t = Tab(browser, live.url, key, viewport={"width": 1200, "height": 800})
    try:
        t.open("/?range=1h")
        t.page.click("[data-action=live]")
        t.page.wait_for_selector("[data-action=live][aria-pressed=true]")
        assert t.query()["live"] == ["1"]
        t.page.wait_for_selector("[data-metric=requests][data-value='0']")
        with live.client(key) as c:
            r = c.post(
                "/v1/events",
                json={
                    "events": [
                        {
                            "timestamp": iso(datetime.now(UTC) - timedelta(seconds=1)),
                            "model": "m-live",
                            "latency_ms": 42,
                            "prompt_id": "live-one",
                        }
                    ]
                },
            )
            assert r.status_code == 200
        # seen within 5 s of the ingest call returning
        t.page.wait_for_selector("[data-metric=requests][data-value='1']", timeout=5_000)
        assert t.errors == []
    finally:
        t.close()


def test_compare_marks_the_best_of_each_row(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/compare?range=24h&cmp_by=model&cmp=m-slow&cmp=m-fast&cmp=m-mid")
    main = page.locator("main")
    params = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "by": "model",
        "model": ["m-slow", "m-fast", "m-mid"],
        "limit": 3,
        "metrics": "requests,success_rate,latency_p95_ms,tokens_per_request,cost_per_request_usd",
    }
    with live.client(world["key"]) as c:
        rows = {r["model"]: r for r in c.get("/v1/metrics/breakdown", params=params).json()["rows"]}
    marked = dict(
        page.eval_on_selector_all(
            "table[data-table=compare] td[data-best]",
            "els => els.map(e => [e.closest('tr').dataset.metric, e.dataset.item])",
        )
    )
    for metric in params["metrics"].split(","):
        better = world["catalog"][metric]["higher_is_better"]
        if better is None:
            assert metric not in marked
            continue
        pick = max if better else min
        assert marked[metric] == pick(rows, key=lambda m: rows[m][metric]), metric
    # the known world: m-slow never failed, m-fast is the fastest and cheapest per call
    assert marked["success_rate"] == "m-slow"
    assert marked["latency_p95_ms"] == "m-fast"
    assert marked["cost_per_request_usd"] == "m-fast"
    shown = page.eval_on_selector_all(
        "table[data-table=compare] thead th[data-item]", "els => els.map(e => e.dataset.item)"
    )
    assert shown == ["m-slow", "m-fast", "m-mid"]
    drawn = dict(page.evaluate(DRAWN))
    assert all(v > 0 for v in drawn.values()), drawn
    assert tab.errors == []


def test_errors_page_lists_failing_calls_with_messages(tab, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/errors?range=24h")
    messages = page.eval_on_selector_all(
        "table[data-table=recent-errors] td[data-key=error_message]",
        "els => els.map(e => e.textContent)",
    )
    assert sorted(messages) == ["429 slow down"] * 3 + ["upstream timed out"] * 2
    cells = dict(
        page.eval_on_selector_all(
            "table[data-table=prompt-error-matrix] tbody tr",
            "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])",
        )
    )
    assert cells == {"alpha": "3", "gamma": "2"}
    assert tab.errors == []


def test_chart_exports_csv_and_png(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    card = page.locator("[data-card=requests]")
    with page.expect_download() as got:
        card.locator("[data-export=csv]").click()
    text = Path(got.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0] == "t,requests"
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 98
    with page.expect_download() as got:
        card.locator("[data-export=png]").click()
    assert Path(got.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tab.errors == []


def test_prompts_table_sorts_searches_and_opens_a_prompt(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/prompts?range=24h")
    names = "els => els.map(e => e.textContent)"
    first = page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names)
    assert first == ["alpha", "beta", "gamma"]  # by requests, most first
    page.click("table[data-table=prompts] th[data-key=latency_p95_ms]")
    assert (
        page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names)[0] == "gamma"
    )
    page.fill("input[name=q]", "et")
    assert page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names) == ["beta"]
    n = tab.updates()
    page.click("a[data-prompt=beta]")
    tab.wait_update(n)
    assert urlparse(page.url).path == "/prompts/beta"
    assert page.locator("[data-metric=requests]").get_attribute("data-value") == "25"
    versions = page.eval_on_selector_all(
        "table[data-table=versions] tbody tr td:first-child", names
    )
    assert versions == ["v1"]
    assert tab.errors == []


@pytest.mark.slow
def test_every_page_draws_without_errors_light_dark_desktop_phone(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    devices = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
    for theme in ("light", "dark"):
        for device, viewport in devices.items():
            t = Tab(
                browser,
                live.url,
                world["key"],
                viewport=viewport,
                color_scheme=theme,
                is_mobile=device == "phone",
            )
            try:
                for name, path in PAGES.items():
                    page = t.open(path + ("&" if "?" in path else "?") + "range=24h")
                    assert page.evaluate("document.documentElement.dataset.theme") == theme
                    drawn = dict(page.evaluate(DRAWN))
                    assert drawn or name == "prompts", name
                    assert all(v > 0 for v in drawn.values()), (name, drawn)
                    if device == "phone":  # nothing wider than the screen
                        assert (
                            page.evaluate("document.documentElement.scrollWidth")
                            <= viewport["width"] + 1
                        ), name
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{theme}-{device}.png"), full_page=True
                    )
                assert t.errors == [], (theme, device, t.errors)
            finally:
                t.close()
    assert len(list(ARTIFACTS.glob("*.png"))) == len(PAGES) * 4
