"""Incidents across a leader takeover: a dead leader's committed round (an incident opened with
a joined alert, then an escalation step) is not sent again by the replica that takes over; the
incident's state and escalation progress are in the shared PostgreSQL with the alerts'."""

from __future__ import annotations

import time

from tests.conftest import InProcessApp
from tests.replicas.test_failover import Hooks, failing_calls
from tests.replicas.test_takeover_round import hooks, pair  # noqa: F401 (fixtures)


def _rule(name: str, metric: str, threshold: float, hook: str, esc: str) -> dict[str, object]:
    return {"name": name, "metric": metric, "operator": ">", "threshold": threshold,
            "window": "1h", "min_requests": 5, "renotify": "0s", "filters": {"model": "m1"},
            "channels": [{"type": "webhook", "url": hook}],
            "escalation": [{"after": "1s",
                            "channels": [{"type": "webhook", "url": esc}]}]}  # fmt: skip


def test_a_dead_leaders_incident_and_escalation_are_not_sent_again(
    pair: tuple[InProcessApp, InProcessApp],  # noqa: F811
    hooks: Hooks,  # noqa: F811
) -> None:
    a, b = pair
    key = a.key("shop", "ingest,read,admin")
    calls = [{**c, "model": "m1"} for c in failing_calls(20)]
    for replica in (a, b):
        with replica.client(key) as c:
            assert c.post("/v1/events", json={"events": calls}).status_code == 200
    with a.client(key) as c:
        for name, metric, threshold in (("errors", "error_rate", 0.1), ("calls", "requests", 5)):
            body = _rule(name, metric, threshold, hooks.url + "/lead", hooks.url + "/esc")
            assert c.post("/v1/alerts/rules", json=body).status_code == 201
    # a opens one incident of two alerts (one message queued), then dies before sending it.
    result, outbox = a.ctx.alerts.evaluate_round()
    assert [ch["to"] for ch in result["changes"]] == ["firing", "firing"]
    assert len(outbox.items) == 1
    time.sleep(1.1)  # the escalation step is due; a commits it and dies again
    result, outbox = a.ctx.alerts.evaluate_round()
    assert len(result["escalations"]) == 1 and len(outbox.items) == 1
    # b takes over: nothing of that is sent again, now or on the next rounds.
    for _ in range(2):
        taken = b.test_client.portal.call(b.ctx.alerts.run_round)
        assert taken["deliveries"] == [] and taken["escalations"] == []
    time.sleep(0.3)
    assert hooks.received == []
