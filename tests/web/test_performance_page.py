"""The Performance page in a real Chromium over a real server: every number it shows (KPI cards,
histogram marks and bins, heatmap cells and scale, the cost vs quality bubbles) is the public
API's answer for the same range, and that answer is numpy's on the generated calls; the
"compare to previous period" toggle draws the shifted range's API figures as dashed lines."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.conftest import iso
from tests.web.test_dashboard import CHROMIUM, DRAWN, OPTION, Tab, browser  # noqa: F401

MODELS = {"m-fast": (0.7, 0.001, 0.97), "m-mid": (1.0, 0.004, 0.9), "m-slow": (1.6, 0.02, 0.8)}
RANGE = "7d"


def _calls(now: datetime, seed: int = 1515, prefix: str = "perf") -> list[dict[str, Any]]:
    """Random calls over the 6.5 days before `now` (inside any 7-day range ending now or later)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(1200):
        model = list(MODELS)[i % 3]
        slow, cost, ok = MODELS[model]
        latency = float(rng.lognormal(6.8, 0.5) * slow)
        ttft = float(latency * rng.uniform(0.1, 0.5)) if rng.random() < 0.85 else None
        out.append(
            {
                "id": f"{prefix}-{i}",
                "timestamp": iso(now - timedelta(seconds=float(rng.uniform(60, 6.5 * 86400)))),
                "model": model,
                "prompt_id": "chat",
                "prompt_version": f"v{1 + i % 2}",
                "status": "success" if rng.random() < ok else "error",
                "latency_ms": latency,
                **({"ttft_ms": ttft} if ttft is not None else {}),
                "output_tokens": int(rng.integers(0, 400)),
                "input_tokens": 200,
                "cost_usd": cost,
            }
        )
    return out


def per_call(calls: list[dict[str, Any]], field: str) -> np.ndarray:
    """docs/metrics.md's per-call figure, NaN where it does not apply."""
    lat = np.array([c["latency_ms"] for c in calls])
    ttft = np.array([c.get("ttft_ms", np.nan) for c in calls])
    out = np.array([c["output_tokens"] for c in calls], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        gen = np.where(ttft <= lat, lat - ttft, np.nan)
        values = {
            "latency_ms": lat,
            "ttft_ms": ttft,
            "generation_ms": gen,
            "tpot_ms": np.where(out > 1, gen / (out - 1), np.nan),
            "output_tps": np.where((out > 0) & (lat > 0), out / (lat / 1000), np.nan),
        }[field]
    return values[~np.isnan(values)]


@pytest.fixture(scope="module")
def perf(live) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    key = live.key("perf", "ingest,read")
    now = datetime.now(UTC)
    calls = _calls(now)
    older = _calls(now - timedelta(days=7.5), 99, "old")  # the previous 7 days: the overlay
    scores = [
        {"event_id": c["id"], "name": "thumbs", "value": float(i % 3 != 0)}
        for i, c in enumerate(calls)
        if i % 4 == 0
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": calls + older}).status_code == 200
        assert c.post("/v1/scores", json={"scores": scores}).status_code == 200
    return {"key": key, "calls": calls, "scores": scores}


@pytest.fixture(scope="module")
def tab(browser, live, perf) -> Iterator[Tab]:  # type: ignore[no-untyped-def]  # noqa: F811
    t = Tab(browser, live.url, perf["key"], viewport={"width": 1440, "height": 900})
    yield t
    t.close()


def _range(page: Any) -> dict[str, str]:
    main = page.locator("main")
    return {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}


def _api(live, key: str, path: str, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with live.client(key) as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


KPI_FIELDS = {
    "latency_p95_ms": ("latency_ms", 95),
    "ttft_p95_ms": ("ttft_ms", 95),
    "tpot_p50_ms": ("tpot_ms", 50),
    "tpot_p95_ms": ("tpot_ms", 95),
    "generation_p95_ms": ("generation_ms", 95),
    "output_tps_p50": ("output_tps", 50),
}


def test_page_draws_and_kpis_are_api_and_numpy(tab, live, perf) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(f"/performance?range={RANGE}")
    assert page.locator("[data-nav='/performance']").inner_text() == "Performance"
    drawn = dict(page.evaluate(DRAWN))
    assert set(drawn) >= {"latency-percentiles", "tpot-percentiles", "output-tps",
                          "latency-histogram", "ttft-histogram", "speed-histogram",
                          "cost-quality", "requests-heatmap", "error-rate-heatmap"}  # fmt: skip
    assert all(v > 0 for v in drawn.values()), drawn
    shown = tab.kpis()
    metrics = ",".join(KPI_FIELDS)
    api = _api(live, perf["key"], "/v1/metrics/breakdown",
               {**_range(page), "by": "project", "metrics": metrics})["rows"][0]  # fmt: skip
    for metric, (field, q) in KPI_FIELDS.items():
        want = float(np.percentile(per_call(perf["calls"], field), q))
        assert float(shown[metric]) == pytest.approx(api[metric], rel=1e-12), metric
        assert float(shown[metric]) == pytest.approx(want, rel=1e-9), metric
    assert tab.errors == []


@pytest.mark.parametrize(
    ("chart", "field"), [("latency-histogram", "latency_ms"), ("ttft-histogram", "ttft_ms")]
)
def test_histograms_with_percentile_marks(tab, live, perf, chart: str, field: str) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(f"/performance?range={RANGE}")
    api = _api(
        live, perf["key"], "/v1/metrics/histogram", {**_range(page), "field": field, "bins": 40}
    )
    x = per_call(perf["calls"], field)
    marks = page.locator(f"[data-card={chart}] [data-mark]")
    got = {marks.nth(i).get_attribute("data-mark"): marks.nth(i).get_attribute("data-value")
           for i in range(marks.count())}  # fmt: skip
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert float(got[name]) == api["percentiles"][name]
        assert float(got[name]) == pytest.approx(np.percentile(x, q), rel=1e-9)
    option = page.evaluate(OPTION, chart)
    bars = option["series"][0]["data"]
    assert [b["value"][1] for b in bars] == [b["count"] for b in api["bins"]]
    edges = np.append(np.arange(40) * api["width"], np.inf)
    assert [b["count"] for b in api["bins"]] == np.histogram(x, edges)[0].tolist()
    lines = option["series"][0]["markLine"]["data"]
    assert [(m["name"], m["xAxis"]) for m in lines] == [
        (n, api["percentiles"][n]) for n in ("p50", "p95", "p99")
    ]
    assert page.get_attribute(f"[data-chart={chart}]", "data-count") == str(len(x))


def test_speed_histogram_follows_the_chosen_field(tab, live, perf) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(f"/performance?range={RANGE}")
    n = tab.updates()
    page.select_option("[data-card=speed-histogram] select[name=dist]", "output_tps")
    tab.wait_update(n)
    assert tab.query()["dist"] == ["output_tps"]
    got = page.locator("[data-card=speed-histogram] [data-mark=p50]").get_attribute("data-value")
    assert float(got) == pytest.approx(np.percentile(per_call(perf["calls"], "output_tps"), 50))


def test_heatmaps_in_the_chosen_time_zone(browser, live, perf) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    t = Tab(browser, live.url, perf["key"], viewport={"width": 1440, "height": 900})
    t.context.add_init_script("localStorage.setItem('pp-tz', 'Asia/Kolkata')")
    try:
        page = t.open(f"/performance?range={RANGE}")
        main = _range(page)
        span_from = min(main["from"], iso(datetime.fromisoformat(main["to"].replace("Z", "+00:00"))
                                          - timedelta(days=7)))  # fmt: skip
        api = _api(live, perf["key"], "/v1/metrics/heatmap",
                   {"from": span_from, "to": main["to"], "tz": "Asia/Kolkata",
                    "metrics": "requests,error_rate"})  # fmt: skip
        zone = ZoneInfo("Asia/Kolkata")
        cell = np.array([
            (lambda t: t.weekday() * 24 + t.hour)(
                datetime.fromisoformat(c["timestamp"].replace("Z", "+00:00")).astimezone(zone))
            for c in perf["calls"]
        ])  # fmt: skip
        failed = np.array([c["status"] == "error" for c in perf["calls"]])
        for chart, metric in (
            ("requests-heatmap", "requests"),
            ("error-rate-heatmap", "error_rate"),
        ):
            option = page.evaluate(OPTION, chart)
            data = {(d[1], d[0]): d[2] for d in option["series"][0]["data"]}
            el = page.locator(f"[data-chart={chart}]")
            assert el.get_attribute("data-tz") == "Asia/Kolkata"
            assert float(el.get_attribute("data-scale-max")) == api["scale"][metric]["max"]
            assert float(el.get_attribute("data-scale-min")) == api["scale"][metric]["min"]
            for c in api["cells"]:
                shown = data[(c["weekday"], c["hour"])]
                assert (None if shown == "-" else shown) == c[metric]
                mine = cell == c["weekday"] * 24 + c["hour"]
                if metric == "requests":
                    assert c[metric] == int(mine.sum())
                elif mine.any():
                    assert c[metric] == pytest.approx(failed[mine].mean(), rel=1e-12)
        assert t.errors == []
    finally:
        t.close()


def test_cost_vs_quality_bubbles(tab, live, perf) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(f"/performance?range={RANGE}")
    option = page.evaluate(OPTION, "cost-quality")
    api = _api(live, perf["key"], "/v1/metrics/breakdown",
               {**_range(page), "by": "model", "sort": "requests", "limit": 20,
                "metrics": "requests,cost_per_request_usd,success_rate"})  # fmt: skip
    bubbles = {d["name"]: d["value"] for d in option["series"][0]["data"]}
    assert set(bubbles) == set(MODELS)
    for row in api["rows"]:
        mine = [c for c in perf["calls"] if c["model"] == row["model"]]
        ok = np.mean([c["status"] == "success" for c in mine])
        assert bubbles[row["model"]] == [
            row["cost_per_request_usd"],
            row["success_rate"],
            row["requests"],
        ]
        assert row["success_rate"] == pytest.approx(ok) and row["requests"] == len(mine)
    n = tab.updates()
    page.select_option("[data-card=cost-quality] select[name=quality]", "score:thumbs")
    tab.wait_update(n)
    assert page.get_attribute("[data-chart=cost-quality]", "data-quality") == "score:thumbs"
    option = page.evaluate(OPTION, "cost-quality")
    by_id = {c["id"]: c["model"] for c in perf["calls"]}
    for d in option["series"][0]["data"]:
        values = [s["value"] for s in perf["scores"] if by_id[s["event_id"]] == d["name"]]
        assert d["value"][1] == pytest.approx(np.mean(values), rel=1e-12)
    assert tab.errors == []


def test_previous_period_overlay_on_every_time_series_chart(tab, live, perf) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(f"/performance?range={RANGE}")
    assert page.get_attribute("[data-chart=tpot-percentiles]", "data-previous") is None
    n = tab.updates()
    page.click("[data-action=previous]")
    tab.wait_update(n)
    assert tab.query()["prev"] == ["1"]
    assert page.get_attribute("[data-action=previous]", "aria-pressed") == "true"
    r = _range(page)
    start, end = (datetime.fromisoformat(r[k].replace("Z", "+00:00")) for k in ("from", "to"))
    before = {"from": iso(start - (end - start)), "to": iso(start), "interval": "day",
              "metrics": "tpot_p95_ms,latency_p99_ms"}  # fmt: skip
    api = _api(live, perf["key"], "/v1/metrics/timeseries", before)["series"][0]["points"]
    for chart, metric, name in (("tpot-percentiles", "tpot_p95_ms", "p95"),
                                ("latency-percentiles", "latency_p99_ms", "p99")):  # fmt: skip
        assert page.get_attribute(f"[data-chart={chart}]", "data-previous") == "3"
        option = page.evaluate(OPTION, chart)
        dashed = next(s for s in option["series"] if s["name"] == f"{name} · previous")
        assert dashed["lineStyle"]["type"] == "dashed"
        assert dashed["data"][: len(api)] == [p[metric] for p in api]
        assert sum(v is not None for v in dashed["data"]) >= 5  # the previous week had calls
    # the toggle is kept across pages, and other pages' time-series charts get it too
    n = tab.updates()
    page.click("[data-nav='/']")
    tab.wait_update(n)
    assert tab.query()["prev"] == ["1"]
    assert page.get_attribute("[data-chart=latency]", "data-previous") == "3"
    assert page.get_attribute("[data-chart=requests]", "data-previous") == "1"
    assert tab.errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_and_themes(browser, live, perf, theme: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    t = Tab(browser, live.url, perf["key"], viewport={"width": 390, "height": 844},
            color_scheme=theme, is_mobile=True)  # fmt: skip
    try:
        page = t.open(f"/performance?range={RANGE}&prev=1")
        assert page.evaluate("document.documentElement.dataset.theme") == theme
        drawn = dict(page.evaluate(DRAWN))
        assert drawn and all(v > 0 for v in drawn.values()), drawn
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        assert t.errors == []
        assert math.isfinite(float(t.kpis()["tpot_p95_ms"]))
    finally:
        t.close()


def test_compare_page_decides_by_time_per_output_token(tab, live, perf) -> None:  # type: ignore[no-untyped-def]
    page = tab.open(
        f"/compare?range={RANGE}&cmp_by=model&cmp=m-fast&cmp=m-slow&primary=tpot_p95_ms"
    )
    assert page.locator("select[name=primary]").input_value() == "tpot_p95_ms"
    api = _api(live, perf["key"], "/v1/compare",
               {**_range(page), "by": "model", "values": "m-fast,m-slow",
                "primary": "tpot_p95_ms"})  # fmt: skip
    row = page.locator("table[data-table=compare] tr[data-metric=tpot_p95_ms]")
    for v in api["variants"]:
        shown = row.locator(f"td[data-item='{v['value']}']").get_attribute("data-value")
        mine = [c for c in perf["calls"] if c["model"] == v["value"]]
        assert float(shown) == v["tpot_p95_ms"]
        assert v["tpot_p95_ms"] == pytest.approx(np.percentile(per_call(mine, "tpot_ms"), 95))
    assert tab.errors == []


def test_a_range_without_calls_draws_empty_figures(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/performance?range=1h&model=no-such-model")
    assert all(v == "" for v in tab.kpis().values()), tab.kpis()
    assert page.get_attribute("[data-chart=latency-histogram]", "data-count") == "0"
    assert page.get_attribute("[data-chart=requests-heatmap]", "data-scale-max") == "0"
    assert page.get_attribute("[data-chart=error-rate-heatmap]", "data-scale-max") == ""
    assert tab.errors == []
