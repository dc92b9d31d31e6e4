"""Across replicas sharing PostgreSQL: a killed leader's alert is not notified again by the
replica that takes over (the alert's state and `notified_at` live in the metadata database),
and a commit on one replica wakes a Live long-poll waiting on another."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from promptpulse.meta import MetaDB, Scope, create_key
from tests.harness.replicas import Replica, wait_for
from tests.replicas.test_leader import agreed_leader


class Hooks:
    """A real webhook receiver on 127.0.0.1 that keeps every notification's body."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                hooks.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [str(b.get("event")) for b in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.close()


def failing_calls(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": f"call-{i}",
            "timestamp": (now - timedelta(minutes=5, seconds=i)).isoformat(),
            "model": "gpt-4o-mini",
            "latency_ms": 200 + i,
            "status": "error" if i % 2 else "success",
            **({"error_type": "timeout"} if i % 2 else {}),
            "input_tokens": 10,
            "output_tokens": 5,
        }
        for i in range(n)
    ]


def test_the_new_leader_does_not_notify_again(
    replicas: Callable[..., list[Replica]], shared_meta: MetaDB, hooks: Hooks
) -> None:
    key = create_key(shared_meta, "shop", frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN}))[1]
    group = replicas(2, alerts_interval_s=0.3, alerts_retry_base_s=0.1)
    calls = failing_calls(20)
    for r in group:  # each replica has its own event store until they share ClickHouse
        with r.client(key) as c:
            assert c.post("/v1/events", json={"events": calls}).status_code == 200
    rule = {
        "name": "errors", "metric": "error_rate", "operator": ">", "threshold": 0.1,
        "window": "1h", "for": "0s", "min_requests": 5, "renotify": "0s",
        "channels": [{"type": "webhook", "url": hooks.url}],
    }  # fmt: skip
    with group[1].client(key) as c:
        assert c.post("/v1/alerts/rules", json=rule).status_code == 201
    wait_for("the firing notification", lambda: hooks.events() == ["firing"])
    leader = wait_for("the leader", lambda: agreed_leader(group))
    old = next(r for r in group if r.name == leader)
    survivor = next(r for r in group if r is not old)
    old.kill()
    killed_at = datetime.now(UTC).isoformat()
    assert wait_for("the survivor leading", lambda: agreed_leader([survivor])) == survivor.name

    def evaluated_since_kill() -> bool:
        with survivor.client(key) as c:
            alerts = c.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
        return bool(alerts) and all(a["evaluated_at"] > killed_at for a in alerts)

    wait_for("rounds of the new leader", evaluated_since_kill)
    wait_for("more rounds of the new leader", evaluated_since_kill)
    assert hooks.events() == ["firing"]
    with survivor.client(key) as c:
        deliveries = c.get("/v1/alerts/deliveries").json()["deliveries"]
    assert [(d["event"], d["status"]) for d in deliveries] == [("firing", "sent")]


def test_a_commit_on_one_replica_wakes_a_long_poll_on_another(
    replicas: Callable[..., list[Replica]], shared_meta: MetaDB
) -> None:
    key = create_key(shared_meta, "live", frozenset({Scope.INGEST, Scope.READ}))[1]
    a, b = replicas(2, alerts_interval_s=0)
    with b.client(key) as c:
        seen = c.get("/v1/changes", params={"after": -1}).json()["sequence"]
    woke: list[int] = []

    def long_poll() -> None:
        with b.client(key) as c:
            woke.append(c.get("/v1/changes", params={"after": seen, "wait": 9}).json()["sequence"])

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    with a.client(key) as c:
        assert c.post("/v1/events", json={"events": failing_calls(3)}).status_code == 200
    waiter.join()
    assert woke and woke[0] > seen  # b committed nothing: a's commit woke it

    def same_sequence() -> int | None:
        got = set()
        for r in (a, b):
            with r.client(key) as c:
                got.add(c.get("/v1/changes", params={"after": -1}).json()["sequence"])
        return got.pop() if len(got) == 1 else None

    assert wait_for("one sequence on both replicas", same_sequence) >= woke[0]
