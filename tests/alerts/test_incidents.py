"""Synthetic incidents replayed through the real ingest path with a simulated clock. Each
template rule fires within its documented delay (docs/alerting.md) and resolves after recovery;
a quiet week with daily seasonality fires nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.alerts.conftest import T0, AlertServer, make_alert_server
from tests.alerts.synth import Shape, traffic
from tests.conftest import stop_server

NOW0 = T0 + timedelta(weeks=5)  # four weeks of history before the replays


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("incidents"), NOW0)
    yield s
    stop_server(server, thread)


def _rule(srv: AlertServer, template: str, prompt: str, **extra: Any) -> str:
    with srv.client(srv.key) as c:
        r = c.post(
            "/v1/alerts/rules",
            json={
                "name": f"{template} {prompt}",
                "template": template,
                "filters": {"prompt_id": prompt},
                **extra,
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _replay(
    srv: AlertServer,
    prompt: str,
    seed: int,
    start: datetime,
    end: datetime,
    shape: Shape,
    per_min: float = 6,
    **kw: Any,
) -> None:
    """Four past weeks of the same hours (the baseline), then this week with the incident."""
    srv.clock.set(start - timedelta(minutes=10))  # ingest rejects calls > 24 h ahead
    lo, hi = start - timedelta(hours=2), end + timedelta(hours=2)
    events = []
    for k in range(1, 5):
        events += traffic(
            prompt, lo - timedelta(weeks=k), hi - timedelta(weeks=k), per_min, seed * 10 + k, **kw
        )
    events += traffic(
        prompt,
        lo,
        hi,
        per_min,
        seed * 10,
        shape=lambda t: shape(t) if start <= t < end else {},
        **kw,
    )
    srv.ingest(events)


def _timeline(
    srv: AlertServer,
    rule_id: str,
    start: datetime,
    end: datetime,
    after: timedelta,
    step: timedelta = timedelta(minutes=1),
) -> list[tuple[datetime, str]]:
    srv.clock.set(start - timedelta(minutes=10))
    svc = srv.live.app.state.ctx.alerts  # type: ignore[attr-defined]
    out = []
    while srv.clock() < end + after:
        now = srv.clock.advance(seconds=step.total_seconds())
        result, _ = svc.evaluate_round()
        out += [(now, c["to"]) for c in result["changes"] if c["source_id"] == rule_id]
    return out


def _check(
    events: list[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    fire_within: timedelta,
    resolve_within: timedelta,
) -> None:
    fired = [t for t, s in events if s == "firing"]
    resolved = [t for t, s in events if s == "resolved"]
    assert fired, f"never fired: {events}"
    assert len(fired) == 1, f"fired more than once: {events}"
    assert start <= fired[0] <= start + fire_within, (fired[0] - start, events)
    assert resolved and resolved[-1] > fired[0], events
    assert resolved[-1] <= end + resolve_within, (resolved[-1] - end, events)


def test_latency_spike(srv: AlertServer) -> None:
    start = NOW0 + timedelta(hours=10)
    end = start + timedelta(minutes=30)
    _replay(srv, "lat", 1, start, end, lambda t: {"latency": 3.0})
    rid = _rule(srv, "latency_spike", "lat")
    events = _timeline(srv, rid, start, end, timedelta(minutes=20))
    _check(events, start, end, timedelta(minutes=5), timedelta(minutes=12))


def test_error_burst(srv: AlertServer) -> None:
    start = NOW0 + timedelta(hours=16)
    end = start + timedelta(minutes=20)
    _replay(srv, "err", 2, start, end, lambda t: {"error_rate": 0.3})
    rid = _rule(srv, "error_rate_high", "err")
    events = _timeline(srv, rid, start, end, timedelta(minutes=15))
    _check(events, start, end, timedelta(minutes=4), timedelta(minutes=7))


def test_traffic_drop(srv: AlertServer) -> None:
    start = NOW0 + timedelta(days=1, hours=11)
    end = start + timedelta(minutes=60)
    _replay(srv, "drop", 3, start, end, lambda t: {"traffic": 0.2})
    rid = _rule(srv, "traffic_drop", "drop")
    events = _timeline(srv, rid, start, end, timedelta(minutes=30), timedelta(minutes=2))
    _check(events, start, end, timedelta(minutes=30), timedelta(minutes=16))


def test_cost_anomaly(srv: AlertServer) -> None:
    start = NOW0 + timedelta(days=2, hours=12)
    end = start + timedelta(minutes=90)
    _replay(srv, "cost", 4, start, end, lambda t: {"cost": 4.0})
    rid = _rule(srv, "cost_anomaly", "cost")
    events = _timeline(srv, rid, start, end, timedelta(minutes=75), timedelta(minutes=2))
    _check(events, start, end, timedelta(minutes=30), timedelta(minutes=62))


@pytest.mark.slow
def test_quiet_week_fires_nothing(srv: AlertServer) -> None:
    week = NOW0 + timedelta(days=7)  # after the incidents above
    srv.clock.set(week + timedelta(weeks=1))  # ingest takes calls up to 24 h ahead
    srv.ingest(traffic("quiet", week - timedelta(weeks=4), week + timedelta(weeks=1), 3, 99))
    ids = {
        _rule(srv, name, "quiet", **{"for": "0s"})  # any breach at all would fire
        for name in (
            "traffic_spike",
            "traffic_drop",
            "latency_spike",
            "error_rate_high",
            "cost_anomaly",
            "success_rate_low",
        )
    }
    srv.clock.set(week)
    svc = srv.live.app.state.ctx.alerts  # type: ignore[attr-defined]
    changes = []
    rounds = 0
    while srv.clock() < week + timedelta(weeks=1):
        srv.clock.advance(minutes=30)  # every hour of the week, twice
        result, _ = svc.evaluate_round()
        rounds += 1
        changes += [c for c in result["changes"] if c["source_id"] in ids]
    assert rounds == 336
    assert [c for c in changes if c["to"] == "firing"] == []
