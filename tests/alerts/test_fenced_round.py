"""A periodic alert round that outlived this replica's lease (another replica leads now) writes
nothing and notifies nobody: its write transaction checks the lease first (a real server on a
real PostgreSQL, a real webhook receiver). "Evaluate now" by hand is not fenced."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from promptpulse.errors import LeaseLost
from promptpulse.meta import leases
from tests.alerts.conftest import T0, Receiver, event, make_alert_server
from tests.conftest import stop_server


def test_a_round_past_its_lease_writes_nothing(tmp_path, pg_url: str, receiver: Receiver) -> None:
    server, thread, srv = make_alert_server(tmp_path, T0 + timedelta(minutes=10),
                                            metadata_url=pg_url, lease_renew_s=3600)  # fmt: skip
    try:
        calls = [event(T0 + timedelta(seconds=30 * i), f"f{i}", status="error") for i in range(20)]
        srv.ingest(calls)
        hook = [{"type": "webhook", "url": receiver.url + "/f"}]
        rule = {"name": "errors", "metric": "error_rate", "operator": ">", "threshold": 0.5,
                "window": "15m", "channels": hook}  # fmt: skip
        with srv.client(srv.key) as c:
            assert c.post("/v1/alerts/rules", json=rule).status_code == 201
        ctx = srv.live.ctx
        assert ctx.lease.held()
        engine = ctx.meta.engine
        with engine.begin() as conn:  # another replica took over while this one stalled
            conn.execute(leases.update().values(holder="other", expires_at=sa.func.now()
                                                + sa.text("interval '1 hour'")))  # fmt: skip
        with pytest.raises(LeaseLost):
            ctx.alerts.evaluate_round(fenced=True)
        with srv.client(srv.key) as c:
            assert c.get("/v1/alerts").json()["alerts"] == []  # nothing written
        assert not ctx.lease.held()  # and this replica knows it no longer leads

        with engine.begin() as conn:  # the lease back: the same round fires, once
            conn.execute(leases.update().values(holder=ctx.lease.holder))
        result, outbox = ctx.alerts.evaluate_round(fenced=True)
        assert [ch["to"] for ch in result["changes"]] == ["firing"]
        assert len(outbox.items) == 1
        # By hand ("evaluate now") any replica may evaluate: not fenced.
        with engine.begin() as conn:
            conn.execute(leases.update().values(holder="other"))
        assert srv.evaluate()["changes"] == []  # already firing: nothing new, and no error
    finally:
        stop_server(server, thread)
