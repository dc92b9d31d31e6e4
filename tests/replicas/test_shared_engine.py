"""Replicas as in production: two and three `promptpulse serve` processes on one ClickHouse
engine (chdb behind the HTTP front of tests/harness/chfront.py) and one real PostgreSQL.
Duplicates sent to two replicas at the same moment count once; a replica killed with -9 in the
middle of ingest loses nothing it acknowledged; every replica answers the same overview."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import clickhouse_connect
import httpx
import pytest

from promptpulse.meta import MetaDB, Scope, create_key
from tests.harness.replicas import Replica, wait_for

pytest.importorskip("chdb")
SPAN = {"from": "2000-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}  # fixed: same answers


@pytest.fixture
def shop_key(shared_meta: MetaDB) -> str:
    return create_key(shared_meta, "shop", frozenset({Scope.INGEST, Scope.READ}), "shop")[1]


def _events(prefix: str, n: int, start: int = 0) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [{"id": f"{prefix}-{i}", "timestamp": (now - timedelta(seconds=i)).isoformat(),
             "model": "m", "latency_ms": 10.0 + i % 97, "user_id": f"u{i % 13}"}
            for i in range(start, start + n)]  # fmt: skip


def _overview(r: Replica, key: str) -> dict[str, object]:
    with r.client(key) as c:
        got = c.get("/v1/metrics/overview", params=SPAN)
    assert got.status_code == 200, got.text
    return got.json()  # type: ignore[no-any-return]


def test_duplicates_across_replicas_count_once_and_every_replica_agrees(
    replicas: Callable[..., list[Replica]], shop_key: str, front: str
) -> None:
    group = replicas(3, store_url=front, alerts_interval_s=0)
    batches = [_events("dup", 200, start=k * 200) for k in range(5)]
    threads = []
    answers: list[int] = []

    def send(r: Replica, events: list[dict[str, object]]) -> None:
        with r.client(shop_key) as c:
            answer = c.post("/v1/events", json={"events": events})
        answers.append(answer.status_code)

    for batch in batches:  # every batch to every replica, all at once
        threads += [threading.Thread(target=send, args=(r, batch)) for r in group]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 15, answers
    seen = [_overview(r, shop_key) for r in group]
    assert [o["requests"] for o in seen] == [1000] * 3
    assert seen[0] == seen[1] == seen[2]  # the very same figures, whichever replica answers


def test_a_replica_killed_mid_ingest_loses_nothing_it_acknowledged(
    replicas: Callable[..., list[Replica]], shop_key: str, front: str
) -> None:
    victim, survivor = replicas(2, store_url=front, alerts_interval_s=0)
    acknowledged: list[str] = []
    stop = threading.Event()

    def pump() -> None:
        with victim.client(shop_key, timeout=10) as c:
            for k in range(10_000):
                if stop.is_set():
                    return
                batch = _events("k", 100, start=k * 100)
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the replica died with this batch in flight: not acknowledged
                if r.status_code == 200:
                    acknowledged.extend(str(e["id"]) for e in batch)

    worker = threading.Thread(target=pump)
    worker.start()
    wait_for("some acknowledged batches", lambda: len(acknowledged) >= 1500, 60)
    victim.kill()
    stop.set()
    worker.join(timeout=30)
    stored = _overview(survivor, shop_key)["requests"]
    assert isinstance(stored, int) and stored >= len(acknowledged) > 0
    # Every acknowledged id, read straight from the engine (not through PromptPulse).
    port = int(front.rsplit(":", 1)[1].split("/")[0])
    engine = clickhouse_connect.get_client(host="127.0.0.1", port=port)
    try:
        rows = engine.query("SELECT id FROM events FINAL WHERE project = 'shop'").result_rows
    finally:
        engine.close()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == stored
    assert set(acknowledged) <= set(ids)
