"""The Alerts page's SLO card for an SLO on a custom metric, in a real Chromium: it names the
metric, counts bad events (not calls), shows the API's error budget left and draws its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import iso
from tests.web.test_dashboard import DRAWN, Tab, _num, browser

__all__ = ["browser"]


def test_the_slo_card_of_a_custom_sli(browser: Any, live: Any) -> None:
    project = "dash-slo-custom"
    key = live.key(project, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [{"id": f"s{i}", "timestamp": iso(now - timedelta(minutes=i + 1)), "model": "m",
               "latency_ms": 500 + (i % 10) * 300} for i in range(300)]  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        body = {"name": "fast_share", "formula": "count(latency_ms < 2000) / requests"}
        assert c.post("/v1/metrics/custom", json=body).status_code == 201
        slo = c.post("/v1/slos", json={"name": "fast answers", "sli": "custom",
                                       "metric": "fast_share", "objective": 0.9})  # fmt: skip
        assert slo.status_code == 201, slo.text
    tab = Tab(browser, live.url, key, viewport={"width": 1400, "height": 900})
    try:
        page = tab.open("/alerts")
        sid = slo.json()["id"]
        card = page.locator(f"[data-slo='{sid}']")
        card.wait_for(state="visible")
        text = card.text_content() or ""
        assert "fast_share ≥ 90" in text and "Bad events" in text, text
        with live.client(key) as c:
            status = c.get(f"/v1/slos/{sid}").json()["status"]
        left = card.locator("[data-slo-remaining]").get_attribute("data-slo-remaining")
        assert _num(left) == status["error_budget_remaining"]
        assert status["bad"] == sum(500 + (i % 10) * 300 >= 2000 for i in range(300))
        drawn = dict(page.evaluate(DRAWN))
        assert drawn.get(f"slo-{sid}", 0) > 0, drawn
        assert tab.errors == []
    finally:
        tab.close()
