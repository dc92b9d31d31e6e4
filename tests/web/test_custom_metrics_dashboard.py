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


def test_the_metrics_page_defines_a_custom_metric(browser: Any, live: Any) -> None:
    """A wrong formula shows the API's message (the part and its position) and saves nothing; a
    right one is listed and offered by Compare at once. A read key sees no form."""
    project = "dash-define"
    key = live.key(project, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [{"id": f"d{i}", "timestamp": iso(now - timedelta(minutes=i + 1)),
               "model": "m-a" if i % 2 else "m-b", "latency_ms": 100 + 10 * i}
              for i in range(60)]  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    tab = Tab(browser, live.url, key, viewport={"width": 1400, "height": 900})
    try:
        page = tab.open("/custom-metrics")
        assert page.locator("table[data-table=custom-metrics] td.empty").count() == 1
        page.fill("form[data-define] input[name=name]", "fast_share")
        page.fill("form[data-define] input[name=formula]", "count(latncy_ms < 500) / requests")
        page.click("form[data-define] button[type=submit]")
        error = page.locator("[data-define-error]")
        error.wait_for(state="visible")
        page.wait_for_function("() => document.querySelector('[data-define-error]').textContent")
        assert error.text_content() == (
            'formula: unknown column "latncy_ms" at 1:7; did you mean latency_ms?'
        )
        with live.client(key) as c:
            assert c.get("/v1/metrics/custom").json()["custom_metrics"] == []
        n = tab.updates()
        page.fill("form[data-define] input[name=formula]", "count(latency_ms < 500) / requests")
        page.select_option("form[data-define] select[name=higher_is_better]", "true")
        page.click("form[data-define] button[type=submit]")
        tab.wait_update(n)
        cells = page.eval_on_selector_all(
            "table[data-table=custom-metrics] tbody td", "els => els.map(e => e.textContent)"
        )
        assert cells[:2] == ["fast_share", "count(latency_ms < 500) / requests"]
        page = tab.open("/compare?range=24h&cmp_by=model&cmp=m-a&cmp=m-b")
        options = page.eval_on_selector_all(
            "select[name=primary] option", "els => els.map(e => e.value)"
        )
        assert "fast_share" in options
        refused = "Failed to load resource: the server responded with a status of 422"
        assert [e.startswith(refused) for e in tab.errors] == [True]  # the wrong formula's POST
    finally:
        tab.close()
    reader = Tab(
        browser, live.url, live.key(project, "read"), viewport={"width": 390, "height": 844}
    )
    try:
        page = reader.open("/custom-metrics")
        assert page.locator("form[data-define]").count() == 0
        assert page.locator("[data-hint=admin]").count() == 1
        box = page.locator("nav a[data-nav='/custom-metrics']").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # on a phone too
    finally:
        reader.close()
