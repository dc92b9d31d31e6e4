"""The Alerts page's incidents in a real Chromium over a real server with a simulated clock: the
incidents table and the MTTA / MTTR per rule are the API's (which tests/alerts checks against
numpy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.alerts.conftest import AlertServer, event, make_alert_server
from tests.conftest import stop_server
from tests.web.test_dashboard import CHROMIUM, Tab, browser  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("incpage"), start)
    yield s
    stop_server(server, thread)


def test_alerts_page_shows_incidents_and_their_mtta_mttr(browser, srv: AlertServer) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    start = srv.clock()
    with srv.client(srv.key) as c:
        for name, metric, threshold in (
            ("errors", "error_rate", 0.2),
            ("slow", "latency_p95_ms", 1000),
        ):
            body = {"name": name, "metric": metric, "operator": ">", "threshold": threshold,
                    "filters": {"prompt_id": "checkout"}}  # fmt: skip
            assert c.post("/v1/alerts/rules", json=body).status_code == 201
    srv.ingest(
        [
            event(
                start + timedelta(seconds=6 * i),
                f"c{i}",
                status="error" if i % 2 else "success",
                latency=3000,
                prompt="checkout",
            )
            for i in range(50)
        ]
    )
    srv.clock.set(start + timedelta(minutes=5))
    srv.evaluate()
    with srv.client(srv.key) as c:
        (incident,) = c.get("/v1/incidents").json()["incidents"]
        srv.clock.advance(minutes=7)
        assert c.post(f"/v1/incidents/{incident['id']}/acknowledge").status_code == 200
        srv.clock.advance(minutes=5)
        assert c.post(f"/v1/incidents/{incident['id']}/resolve").status_code == 200
        listed = c.get("/v1/incidents").json()["incidents"]
        stats = c.get("/v1/incidents/stats", params={"by": "rule"}).json()["rows"]
    t = Tab(browser, srv.live.url, srv.key, viewport={"width": 1400, "height": 900})
    try:
        page = t.open("/alerts")
        shown = page.eval_on_selector_all(
            "[data-incident]", "els => els.map(e => e.dataset.incident)"
        )
        assert shown == [i["id"] for i in listed]
        state = page.locator("table[data-table=incidents] [data-state]").get_attribute("data-state")
        assert state == "resolved"
        mtta = page.eval_on_selector_all("[data-mtta]", "els => els.map(e => +e.dataset.mtta)")
        mttr = page.eval_on_selector_all("[data-mttr]", "els => els.map(e => +e.dataset.mttr)")
        assert mtta == [r["mtta_s"] for r in stats] and mttr == [r["mttr_s"] for r in stats]
        cells = page.eval_on_selector_all(
            "table[data-table=incident-stats] td[data-key=mtta_s]",
            "els => els.map(e => e.textContent)",
        )
        assert cells == ["7.0 min"]  # 7 minutes from opening to the acknowledgement
        assert t.errors == []
    finally:
        t.close()
