"""Live mode by push, in a real Chromium over a real server: an ingested call reaches the
Overview's tiles, its newest bucket and its recent-calls table from the stream's delta, with no
query; the panels that cannot be merged re-query once, debounced; two tabs each hold a stream."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import LiveServer, iso
from tests.web.test_dashboard import Tab, browser

__all__ = ["browser"]


def _call(i: int, seconds_ago: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"live-{i}",
        "timestamp": iso(datetime.now(UTC) - timedelta(seconds=seconds_ago)),
        "model": "m-live",
        "prompt_id": "seeded",
        "latency_ms": 100 + i,
        "input_tokens": 10 * i,
        "output_tokens": i,
        "cost_usd": 0.001 * i,
        **extra,
    }


def _tile(page: Any, metric: str) -> float:
    return float(page.get_attribute(f"[data-metric={metric}]", "data-value"))


def test_a_pushed_call_shows_without_requerying_every_panel(browser, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    key = live.key("dash-push", "ingest,read")
    with live.client(key) as c:
        seeded = [_call(i, 120 + i) for i in range(1, 6)]
        assert c.post("/v1/events", json={"events": seeded}).status_code == 200
    t = Tab(browser, live.url, key, viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    t.page.on("request", lambda r: "/v1/" in r.url and requests.append(r.url))
    try:
        page = t.open("/?range=1h&live=1")
        page.wait_for_selector("body[data-live=open]")
        before = {m: _tile(page, m) for m in ("requests", "cost_usd", "tokens")}
        bars = page.evaluate("document.querySelector('[data-chart=requests]') !== null")
        assert before["requests"] == 5 and bars
        updates = t.updates()
        seen_requests = len(requests)
        new = _call(9, 1, prompt_id="pushed-one", status="error", error_type="timeout")
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": [new]}).status_code == 200
        page.wait_for_selector("[data-metric=requests][data-value='6']", timeout=10_000)
        body = page.evaluate("({...document.body.dataset})")
        # Drawn from the delta: the page had made no API call since it was last ready.
        assert body["requestsAtDelta"] == body["apiRequests"]
        assert _tile(page, "cost_usd") == before["cost_usd"] + 0.009
        assert _tile(page, "tokens") == before["tokens"] + 99
        assert _tile(page, "success_rate") == 5 / 6
        first_row = page.inner_text("table[data-table=recent-calls] tbody tr")
        assert "pushed-one" in first_row and "timeout" in first_row
        # Then the panels that cannot be merged (percentiles, users, breakdowns) re-query once,
        # debounced; the recent calls and the cost projection are not asked again.
        t.wait_update(updates)
        after = [u.split("?")[0].split("/v1/")[1] for u in requests[seen_requests:]]
        assert "metrics/overview" in after
        assert "calls" not in after and "forecast" not in after
        assert after.count("metrics/overview") == 1
        with live.client(key) as c:  # and the figures are the API's own
            o = c.get(
                "/v1/metrics/overview",
                params={
                    "from": page.get_attribute("main", "data-from"),
                    "to": iso(datetime.now(UTC)),
                },
            ).json()
        assert _tile(page, "requests") == o["requests"] == 6
        assert _tile(page, "latency_p95_ms") == o["latency_ms"]["p95"]
        assert t.errors == []
    finally:
        t.close()


def test_two_tabs_each_get_the_call(browser, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    key = live.key("dash-tabs", "ingest,read")
    tabs = [Tab(browser, live.url, key, viewport={"width": 1200, "height": 800}) for _ in range(2)]
    try:
        for tab in tabs:
            tab.open("/?range=1h&live=1").wait_for_selector("body[data-live=open]")
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": [_call(1, 1)]}).status_code == 200
        for tab in tabs:
            tab.page.wait_for_selector("[data-metric=requests][data-value='1']", timeout=10_000)
            assert tab.errors == []
    finally:
        for tab in tabs:
            tab.close()


def test_a_delta_the_refreshed_answer_holds_is_not_added_twice(browser, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    """A call committed while a refresh is in flight, before its overview query ran: the answer
    counts it, so its delta (which came meanwhile) is not added on top (X-PromptPulse-Sequence).
    Before, the Requests tile read one too many until the next debounced refresh."""
    key = live.key("dash-asof", "ingest,read")
    with live.client(key) as c:
        assert c.post(
            "/v1/events", json={"events": [_call(i, 120 + i) for i in range(5)]}
        ).is_success
    t = Tab(browser, live.url, key, viewport={"width": 1400, "height": 900})
    held: list[str] = []

    def hold(route: Any) -> None:
        """The refresh's overview request waits: a call commits and its delta reaches the
        tab first; then the query runs and counts it."""
        if not held:
            held.append(route.request.url)
            with live.client(key) as c:
                assert c.post("/v1/events", json={"events": [_call(7, 1)]}).is_success
            time.sleep(0.5)
        route.continue_()

    try:
        page = t.open("/?range=1h&live=1")
        page.wait_for_selector("body[data-live=open]")
        assert _tile(page, "requests") == 5
        page.route("**/v1/metrics/overview?*", hold)
        updates = t.updates()
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": [_call(6, 1)]}).is_success
        page.wait_for_selector("[data-metric=requests][data-value='6']", timeout=10_000)
        t.wait_update(updates)  # the debounced refresh, held above
        assert held, "the refresh sent no overview request"
        shown = _tile(page, "requests")
        with live.client(key) as c:
            o = c.get(
                "/v1/metrics/overview",
                params={
                    "from": page.get_attribute("main", "data-from"),
                    "to": iso(datetime.now(UTC)),
                },
            )
        assert int(o.headers["x-promptpulse-sequence"]) > 0
        assert shown == o.json()["requests"] == 7
        assert t.errors == []
    finally:
        t.close()
