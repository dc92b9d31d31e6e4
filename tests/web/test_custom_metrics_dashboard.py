"""The dashboard offers a project's custom metrics, in a real Chromium: the Compare page's
"Decide by" lists a testable custom metric with a direction (not one with a percentile), and
deciding by it shows the API's comparison of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import iso
from tests.web.test_dashboard import Tab, _check_comparison, browser

__all__ = ["browser"]


def test_compare_decides_by_a_custom_metric(browser: Any, live: Any) -> None:
    project = "dash-custom"
    key = live.key(project, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [
        {"id": f"e{i}", "timestamp": iso(now - timedelta(minutes=i + 1)),
         "model": "m-a" if i % 2 else "m-b", "latency_ms": 300 + (i % 7) * 400}
        for i in range(400)
    ]  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        for name, formula in (("fast_share", "count(latency_ms < 1000) / requests"),
                              ("p95_twice", "latency_p95_ms * 2")):  # fmt: skip
            body = {"name": name, "formula": formula, "higher_is_better": True}
            assert c.post("/v1/metrics/custom", json=body).status_code == 201
    tab = Tab(browser, live.url, key, viewport={"width": 1400, "height": 900})
    try:
        page = tab.open("/compare?range=24h&cmp_by=model&cmp=m-a&cmp=m-b")
        options = page.eval_on_selector_all(
            "select[name=primary] option", "els => els.map(e => e.value)"
        )
        assert "fast_share" in options and "p95_twice" not in options
        n = tab.updates()
        page.select_option("select[name=primary]", "fast_share")
        tab.wait_update(n)
        main = page.locator("main")
        params = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to"),
                  "by": "model", "values": "m-a,m-b", "primary": "fast_share"}  # fmt: skip
        with live.client(key) as c:
            answer = c.get("/v1/compare", params=params).json()
        _check_comparison(page, "compare", answer)
        assert page.locator("tr.primary-row").get_attribute("data-metric") == "fast_share"
        assert tab.errors == []
    finally:
        tab.close()
