"""Change markers in a real Chromium over a real server: an annotation posted through the API and
the first call of a new prompt version are drawn on every time-series chart of the Overview as
vertical lines at the buckets they fall in (found here from the API's own bucket times), the
tooltip of that bucket names them, and the top bar's "Changes" button (`markers=0`) hides them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import iso
from tests.web.test_dashboard import CHROMIUM, OPTION, Tab, browser  # noqa: F401

TIME_SERIES = {"requests", "outcomes", "latency", "tokens", "cost"}  # the Overview's


@pytest.fixture(scope="module")
def world(live) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    key = live.key("mk", "ingest,read")
    now = datetime.now(UTC)
    rng = np.random.default_rng(16)
    v2_first = now - timedelta(hours=float(rng.uniform(6, 18)))
    calls = []
    for i in range(300):
        t = now - timedelta(hours=float(rng.uniform(0.1, 23)))
        version = "v2" if t >= v2_first else "v1"
        calls.append(
            {
                "id": f"mk-{i}",
                "timestamp": iso(t),
                "model": "gpt-4o-mini",
                "prompt_id": "chat",
                "prompt_version": version,
                "latency_ms": float(rng.lognormal(6, 0.4)),
            }
        )
    calls.append(
        {**calls[0], "id": "mk-v2-first", "timestamp": iso(v2_first), "prompt_version": "v2"}
    )
    calls.append(
        {
            **calls[0],
            "id": "mk-v1-old",
            "timestamp": iso(now - timedelta(days=3)),
            "prompt_version": "v1",
        }
    )
    deploy = now - timedelta(hours=float(rng.uniform(2, 5)))
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": calls}).status_code == 200
        r = c.post(
            "/v1/annotations", json={"time": iso(deploy), "title": "deploy 9.9", "kind": "deploy"}
        )
        assert r.status_code == 201, r.text
    return {"key": key, "deploy": deploy, "v2_first": v2_first}


@pytest.fixture(scope="module")
def tab(browser, live, world) -> Iterator[Tab]:  # type: ignore[no-untyped-def]  # noqa: F811
    t = Tab(browser, live.url, world["key"], viewport={"width": 1440, "height": 900})
    yield t
    t.close()


def _bucket_index(live, key: str, page: Any, t: datetime) -> int:  # type: ignore[no-untyped-def]
    """The hour bucket of `t` among the API's buckets for the page's range."""
    main = page.locator("main")
    q = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "interval": "hour",
        "metrics": "requests",
    }
    with live.client(key) as c:
        ts = c.get("/v1/metrics/timeseries", params=q).json()
    starts = [
        datetime.fromisoformat(p["t"].replace("Z", "+00:00")) for p in ts["series"][0]["points"]
    ]
    return bisect_right(starts, t) - 1


def test_markers_on_every_time_series_chart(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    deploy_i = _bucket_index(live, world["key"], page, world["deploy"])
    v2_i = _bucket_index(live, world["key"], page, world["v2_first"])
    for chart in sorted(TIME_SERIES):
        assert page.get_attribute(f"[data-chart={chart}]", "data-markers") == "2", chart
        option = page.evaluate(OPTION, chart)
        lines = [d for s in option["series"] for d in (s.get("markLine") or {}).get("data", [])]
        where = {d["name"]: d["xAxis"] for d in lines}
        assert where == {
            "deploy: deploy 9.9": deploy_i,
            "new prompt version: chat v2: first call": v2_i,
        }
    # One request for the markers: the errors-by-type series (status=error) marks the same
    # changes as the others, an outcome not being a change.
    asked = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/v1/annotations')).length"
    )
    assert asked == 1
    # The tooltip of the deploy's bucket names it.
    page.evaluate(
        """i => echarts.getInstanceByDom(document.querySelector('[data-chart=requests]'))
             .dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: i})""",
        deploy_i,
    )
    tip = page.locator("[data-chart=requests] [data-marker-tip]")
    tip.first.wait_for(state="attached")
    assert "deploy 9.9" in page.locator("[data-chart=requests]").inner_text()
    assert tab.errors == []


def test_the_changes_button_hides_them(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    assert page.get_attribute("[data-action=markers]", "aria-pressed") == "true"
    page.click("[data-action=markers]")
    page.wait_for_function(
        """ids => ids.every(id => {
             const el = document.querySelector(`[data-chart=${id}]`);
             return el && el.dataset.drawn && !el.dataset.markers
               && echarts.getInstanceByDom(el); })""",
        arg=sorted(TIME_SERIES),
    )
    assert "markers=0" in page.url
    assert page.get_attribute("[data-action=markers]", "aria-pressed") == "false"
    for chart in TIME_SERIES:
        assert page.get_attribute(f"[data-chart={chart}]", "data-markers") is None
        option = page.evaluate(OPTION, chart)
        assert not any((s.get("markLine") or {}).get("data") for s in option["series"])
    page = tab.open("/?range=24h&markers=0")
    assert page.get_attribute("[data-chart=latency]", "data-markers") is None
    assert tab.errors == []
