"""One round of every feature that keeps metadata, through the real app, on SQLite and on a real
PostgreSQL: keys, prices, alert rules and the alerts an evaluation fires (events, webhook
deliveries, acknowledgement, resolution), silences, budgets, SLOs, experiments and exposures,
report schedules that run, retention policies. Written through the API, read back through it,
changed and deleted again: the same answers on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key, list_keys, revoke_key, verify_key
from tests.meta import make_fixture as fx


@pytest.fixture
def built(metadata_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, fx.Clock, MetaDB]]:
    """The fixture's story (tests/meta/make_fixture.py) written by the app on `metadata_url`."""
    settings = Settings(
        data_dir=tmp_path / "data",
        metadata_url=metadata_url,
        alerts_interval_s=0,
        rollup_interval_s=0,
        retention_interval_s=0,
        reports_interval_s=0,
        reports_dir=tmp_path / "reports",
        allowed_hosts="127.0.0.1",  # the fixture's webhook receiver
    )
    meta = MetaDB(metadata_url)
    keys = fx._keys(meta)
    clock = fx.Clock(fx.NOW)
    receiver, hook = fx._receiver()
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    ops = {"Authorization": f"Bearer {keys['project']}"}
    try:
        with TestClient(create_app(settings, clock=clock), headers=ops) as c:
            fx._ok(c.post("/v1/events", json={"events": fx._events()}))
            fx._alerting(c, hook, admin)
            fx._experiment(c)
            fx._lifecycle(c, clock, admin)
            fx._wait_deliveries(metadata_url)
            c.headers.update(admin)
            yield c, clock, meta
    finally:
        receiver.shutdown()
        receiver.server_close()
        meta.close()


def test_every_feature_reads_back_what_it_wrote(built: tuple[TestClient, fx.Clock, MetaDB]) -> None:
    c, _, meta = built
    rules = {r["name"]: r for r in _get(c, "/v1/alerts/rules")["rules"]}
    assert rules["checkout errors"]["threshold"] == 0.05
    assert rules["checkout errors"]["enabled"] is True and rules["traffic drop"]["enabled"] is False
    assert rules["checkout errors"]["channels"][0]["secret"] == "********"
    alerts = {a["name"]: a for a in _get(c, "/v1/alerts")["alerts"]}
    acked = alerts["checkout errors"]
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "alice"
    assert acked["fired_at"].endswith("Z") and acked["fired_at"] <= acked["acknowledged_at"]
    kinds = [e["kind"] for e in _get(c, f"/v1/alerts/{acked['id']}")["history"]]
    assert "firing" in kinds and "acknowledged" in kinds
    deliveries = _get(c, "/v1/alerts/deliveries")["deliveries"]
    assert deliveries and {d["status"] for d in deliveries} == {"sent"}
    assert _get(c, "/v1/alerts/silences")["silences"][0]["comment"] == "maintenance window"
    assert _get(c, "/v1/budgets")["budgets"][0]["amount"] == 0.05
    assert _get(c, "/v1/slos")["slos"][0]["objective"] == 0.99
    exp = _get(c, "/v1/experiments")["experiments"][0]
    assert exp["name"] == "checkout v2" and exp["start"] == "2026-03-01T12:00:00Z"
    sched = _get(c, "/v1/reports/schedules")["schedules"][0]
    assert sched["last_period_end"] == "2026-03-03T00:00:00Z"
    shop = _get(c, "/v1/retention")["projects"]["shop"]["override"]
    assert shop == {"raw_days": 30, "hourly_days": None, "daily_days": 730}
    price = _get(c, "/v1/prices")["prices"][0]
    assert (price["input_per_mtok"], price["cached_input_per_mtok"]) == (3, 0.3)
    listed = {k.name: k for k in list_keys(meta)}
    assert listed["old read key"].revoked_at is not None and listed["shop ops"].revoked_at is None
    assert listed["shop ops"].created_at.tzinfo is not None  # aware on both engines
    with meta.engine.connect() as conn:
        events = conn.execute(sa.text("SELECT id FROM alert_events ORDER BY id")).scalars().all()
    assert events == sorted(set(events)) and len(events) >= 2  # autoincrement ids


def test_every_feature_changes_and_deletes(built: tuple[TestClient, fx.Clock, MetaDB]) -> None:
    c, _, meta = built
    rule = next(r for r in _get(c, "/v1/alerts/rules")["rules"] if r["name"] == "traffic drop")
    fx._ok(c.patch(f"/v1/alerts/rules/{rule['id']}", json={"enabled": True}))
    assert _get(c, f"/v1/alerts/rules/{rule['id']}")["enabled"] is True
    fx._ok(c.post("/v1/alerts/evaluate"))  # 20 h later: the error-rate alert resolves
    fx._wait_deliveries(str(meta.engine.url.render_as_string(hide_password=False)))
    sent = [d["event"] for d in _get(c, "/v1/alerts/deliveries")["deliveries"]]
    assert sorted(sent) == ["acknowledged", "firing", "resolved"]
    fx._ok(c.post("/v1/alerts/evaluate"))  # nothing changed: nothing is sent again
    assert len(_get(c, "/v1/alerts/deliveries")["deliveries"]) == len(sent)
    still = [a for a in _get(c, "/v1/alerts")["alerts"] if a["state"] != "resolved"]
    assert still, "the budget alert fires all month"
    fx._ok(c.post(f"/v1/alerts/{still[0]['id']}/resolve", json={"by": "bob"}))
    assert _get(c, f"/v1/alerts/{still[0]['id']}")["resolved_by"] == "bob"
    budget = _get(c, "/v1/budgets")["budgets"][0]
    fx._ok(
        c.put(
            f"/v1/budgets/{budget['id']}",
            json={"name": budget["name"], "amount": 7.5, "period": "week"},
        )
    )
    changed = _get(c, f"/v1/budgets/{budget['id']}")
    assert (changed["amount"], changed["period"]) == (7.5, "week")
    slo = _get(c, "/v1/slos")["slos"][0]
    assert c.delete(f"/v1/slos/{slo['id']}").status_code == 204
    assert c.get(f"/v1/slos/{slo['id']}").status_code == 404
    silence = _get(c, "/v1/alerts/silences")["silences"][0]
    assert c.delete(f"/v1/alerts/silences/{silence['id']}").status_code == 204
    exp = _get(c, "/v1/experiments")["experiments"][0]
    units = [{"unit_id": f"u{i}"} for i in range(3, 8)]  # u3, u4 seen before
    got = fx._ok(c.post(f"/v1/experiments/{exp['id']}/exposures", json={"exposures": units}))
    assert got == {"recorded": 3, "already_exposed": 2}
    fx._ok(c.put("/v1/retention/shop", json={"raw_days": None, "daily_days": None}))
    assert "shop" not in _get(c, "/v1/retention")["projects"]  # back to the defaults
    price = {"input_per_mtok": 4, "output_per_mtok": 16}
    fx._ok(c.put("/v1/prices/acme-llm-1", params={"project": "shop"}, json=price))
    assert _get(c, "/v1/prices?project=shop")["prices"][0]["input_per_mtok"] == 4
    key, secret = create_key(meta, "shop", frozenset({Scope.READ}), "short-lived")
    assert verify_key(meta, secret) is not None
    revoke_key(meta, key.id)
    assert verify_key(meta, secret) is None


def _get(c: TestClient, path: str) -> Any:
    r = c.get(path)
    assert r.status_code == 200, (path, r.text)
    return r.json()
