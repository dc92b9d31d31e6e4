"""A leader dying in the middle of an alert round, between committing the round and sending
its notifications: the replica that takes over finds the alert already notified (its state and
`notified_at` are in the shared PostgreSQL) and sends nothing. Two apps in this process stand
for the two replicas; a real webhook receiver counts what is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import InProcessApp, in_process_app
from tests.replicas.test_failover import Hooks, failing_calls

QUIET = {"alerts_interval_s": 0, "rollup_interval_s": 0, "retention_interval_s": 0,
         "reports_interval_s": 0}  # fmt: skip


@pytest.fixture
def pair(pg_url: str, tmp_path: Path) -> Iterator[tuple[InProcessApp, InProcessApp]]:
    with ExitStack() as stack:
        apps = []
        for name in ("a", "b"):
            made = in_process_app(tmp_path / name, metadata_url=pg_url, replica_id=name, **QUIET)
            apps.append(next(made))
            stack.callback(lambda m=made: next(m, None))
        yield apps[0], apps[1]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.close()


def _rule(name: str, hook: str) -> dict[str, object]:
    return {"name": name, "metric": "error_rate", "operator": ">", "threshold": 0.1,
            "window": "1h", "for": "0s", "min_requests": 5, "renotify": "0s",
            "filters": {"model": name}, "channels": [{"type": "webhook", "url": hook}]}  # fmt: skip


def test_a_round_committed_by_a_dead_leader_is_not_notified_again(
    pair: tuple[InProcessApp, InProcessApp], hooks: Hooks
) -> None:
    a, b = pair
    key = a.key("shop", "ingest,read,admin")
    calls = [{**c, "model": m, "id": f"{m}-{c['id']}"} for m in ("m1", "m2")
             for c in failing_calls(20)]  # fmt: skip
    for replica in (a, b):
        with replica.client(key) as c:
            assert c.post("/v1/events", json={"events": calls}).status_code == 200
    with a.client(key) as c:
        assert c.post("/v1/alerts/rules", json=_rule("m1", hooks.url)).status_code == 201
    # a's round commits the firing alert of m1, then a dies before sending (the outbox is lost).
    result, outbox = a.ctx.alerts.evaluate_round()
    assert [ch["to"] for ch in result["changes"]] == ["firing"] and len(outbox.items) == 1
    with a.client(key) as c:
        assert c.post("/v1/alerts/rules", json=_rule("m2", hooks.url)).status_code == 201
    # b takes over: m1 was notified by a's round, m2 (never evaluated) is b's to send, once.
    taken = b.test_client.portal.call(b.ctx.alerts.run_round)
    assert len(taken["deliveries"]) == 1
    deadline = time.monotonic() + 10
    while len(hooks.received) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    again = b.test_client.portal.call(b.ctx.alerts.run_round)
    assert again["deliveries"] == []
    assert [(h["event"], h["name"]) for h in hooks.received] == [("firing", "m2")]
