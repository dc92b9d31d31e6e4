"""Budgets (slow overrun, 50/80/100 % and forecast alerts) and SLO burn-rate alerts (fast and
slow burn), replayed through ingest with a simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.alerts.conftest import AlertServer, event, make_alert_server
from tests.conftest import stop_server

START = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("budgets"), START)
    yield s
    stop_server(server, thread)


def _round(srv: AlertServer) -> list[dict[str, Any]]:
    result, _ = srv.live.app.state.ctx.alerts.evaluate_round()  # type: ignore[attr-defined]
    assert result["errors"] == [], result["errors"]
    return result["changes"]  # type: ignore[no-any-return]


def test_budget_slow_overrun(srv: AlertServer) -> None:
    # $10 a day, every day of May (31 days): $310 against a $250 budget.
    with srv.client(srv.key) as c:
        r = c.post(
            "/v1/budgets", json={"name": "may", "amount": 250, "filters": {"prompt_id": "budget"}}
        )
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
    fired: dict[str, datetime] = {}
    resolved: dict[str, datetime] = {}
    day = START
    while day < datetime(2026, 6, 3, tzinfo=UTC):
        if day.month == 5:
            srv.clock.set(day)
            srv.ingest(
                [
                    event(
                        day + timedelta(hours=h), f"b-{day.day}-{h}", prompt="budget", cost=10 / 24
                    )
                    for h in range(24)
                ]
            )
        srv.clock.set(day + timedelta(hours=23, minutes=59))
        for ch in _round(srv):
            if ch["source_id"] == bid:
                key = ch["scope"]["threshold"]
                (fired if ch["to"] == "firing" else resolved).setdefault(key, srv.clock())
        day += timedelta(days=1)
    # The projection overruns long before the money does; thresholds fire in order.
    assert fired["forecast"] < fired["spent>=50%"] < fired["spent>=80%"] < fired["spent>=100%"]
    assert fired["spent>=50%"].day == 13  # $130 spent at the end of the 13th
    assert fired["spent>=100%"].day == 25  # $250 at the end of the 25th
    assert fired["forecast"].day <= 3
    # A new month: spend starts again from zero, every budget alert resolves.
    # Once the money is spent the 100 % alert takes over from the forecast alert.
    assert resolved.pop("forecast") == fired["spent>=100%"]
    assert set(resolved) == set(fired) - {"forecast"}
    assert all(t.month == 6 for t in resolved.values())
    with srv.client(srv.key) as c:
        status = c.get(f"/v1/budgets/{bid}").json()["status"]
    assert status["spent"] == 0 and status["period_start"].startswith("2026-06-01")


def _slo_traffic(
    srv: AlertServer, prompt: str, start: datetime, minutes: int, err: float, tag: str
) -> None:
    """20 calls a minute with a share `err` failing."""
    evs = [
        event(
            start + timedelta(minutes=m, seconds=3 * k),
            f"{tag}-{m}-{k}",
            prompt=prompt,
            status="error" if err and (m * 20 + k) % round(1 / err) == 0 else "success",
        )
        for m in range(minutes)
        for k in range(20)
    ]
    srv.ingest(evs)


def _slo(srv: AlertServer, prompt: str) -> str:
    with srv.client(srv.key) as c:
        r = c.post(
            "/v1/slos", json={"name": prompt, "objective": 0.999, "filters": {"prompt_id": prompt}}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _watch(
    srv: AlertServer, sid: str, until: datetime, step: timedelta
) -> list[tuple[datetime, str, str]]:
    seen = []
    while srv.clock() < until:
        srv.clock.advance(seconds=step.total_seconds())
        seen += [
            (srv.clock(), c["scope"]["windows"], c["to"])
            for c in _round(srv)
            if c["source_id"] == sid
        ]
    return seen


def test_slo_fast_burn_pages_and_resolves(srv: AlertServer) -> None:
    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    srv.clock.set(t0)
    sid = _slo(srv, "slo-fast")
    _slo_traffic(srv, "slo-fast", t0 - timedelta(hours=8), 8 * 60, 0.0, "base")
    # 25 % errors for 20 minutes: 250x the budget rate of a 99.9 % objective.
    _slo_traffic(srv, "slo-fast", t0, 20, 0.25, "fast")
    _slo_traffic(srv, "slo-fast", t0 + timedelta(minutes=20), 60, 0.0, "after")
    seen = _watch(srv, sid, t0 + timedelta(minutes=60), timedelta(minutes=1))
    fast = [(t, s) for t, w, s in seen if w == "burn 1h/5m"]
    assert fast[0][1] == "firing" and fast[0][0] <= t0 + timedelta(minutes=6), seen
    assert fast[-1][1] == "resolved" and fast[-1][0] <= t0 + timedelta(minutes=27), seen
    with srv.client(srv.key) as c:
        st = c.get(f"/v1/slos/{sid}").json()["status"]
        assert st["error_budget_remaining"] < 0  # 100 bad calls against ~11 allowed
        hist = c.get(f"/v1/slos/{sid}/history", params={"interval": "hour"}).json()["points"]
        assert hist[-1]["error_budget_remaining"] == pytest.approx(
            st["error_budget_remaining"], abs=0.2
        )


def test_slo_slow_burn_opens_a_ticket_not_a_page(srv: AlertServer) -> None:
    t1 = datetime(2026, 7, 3, tzinfo=UTC)
    srv.clock.set(t1)
    sid = _slo(srv, "slo-slow")
    _slo_traffic(srv, "slo-slow", t1 - timedelta(hours=8), 8 * 60, 0.0, "base")
    # 0.25 % errors (2.5x the budget rate) for 8 hours: a ticket, never a page.
    _slo_traffic(srv, "slo-slow", t1, 8 * 60, 0.0025, "slow")
    seen = _watch(srv, sid, t1 + timedelta(hours=8), timedelta(minutes=15))
    slow = [(t, s) for t, w, s in seen if w == "burn 3d/6h"]
    assert slow and slow[0][1] == "firing", seen
    assert not [s for t, w, s in seen if w != "burn 3d/6h"], seen


def test_latency_slo_status(srv: AlertServer) -> None:
    t = datetime(2026, 7, 10, tzinfo=UTC)
    srv.clock.set(t)
    srv.ingest(
        [
            event(
                t - timedelta(minutes=30) + timedelta(seconds=i),
                f"lat-slo-{i}",
                prompt="lat-slo",
                latency=100 if i % 10 else 5000,
            )
            for i in range(100)
        ]
    )
    with srv.client(srv.key) as c:
        r = c.post(
            "/v1/slos",
            json={
                "name": "fast enough",
                "sli": "latency",
                "latency_threshold_ms": 2000,
                "objective": 0.95,
                "filters": {"prompt_id": "lat-slo"},
            },
        )
        assert r.status_code == 201, r.text
        st = r.json()["status"]
        assert (st["requests"], st["bad"]) == (100, 10)
        assert st["sli"] == pytest.approx(0.9) and st["burn_rate"] == pytest.approx(2.0)
        assert st["error_budget_remaining"] == pytest.approx(-1.0)
        hist = c.get(
            f"/v1/slos/{r.json()['id']}/history",
            params={"interval": "day", "from": "2026-07-08", "to": "2026-07-10"},
        ).json()
        assert [p["bad"] for p in hist["points"]] == [0, 10]
        bad = c.post("/v1/slos", json={"name": "x", "sli": "latency", "objective": 0.9})
        assert bad.status_code == 422 and "latency_threshold_ms" in bad.text
