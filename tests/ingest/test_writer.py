"""Backpressure: with a tiny writer queue and many concurrent posts, some answers are 429 with
Retry-After and a problem body; nothing acknowledged is lost, and retried batches get in."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptpulse.model import Scope
from tests.conftest import start_server, stop_server

EVERYTHING = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.mark.slow
def test_full_queue_answers_429_and_loses_nothing(tmp_path: Path) -> None:
    server, thread, live = start_server(tmp_path, writer_queue_events=30)
    key = live.key("bp")
    acked: set[str] = set()
    refused: list[list[dict]] = []
    throttles: list[tuple[str | None, dict, str]] = []
    lock = threading.Lock()

    def post_many(worker: int) -> None:
        with live.client(key) as c:
            for n in range(12):
                batch = [
                    {
                        "id": f"w{worker}-{n}-{i}",
                        "timestamp": "2025-06-02T12:00:00Z",
                        "model": "m",
                        "latency_ms": 1,
                    }
                    for i in range(20)
                ]
                r = c.post("/v1/events", json={"events": batch})
                with lock:
                    if r.status_code == 200:
                        acked.update(e["id"] for e in batch)
                    else:
                        throttles.append(
                            (r.headers.get("retry-after"), r.json(), r.headers["content-type"])
                        )
                        refused.append(batch)

    try:
        threads = [threading.Thread(target=post_many, args=(w,)) for w in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert throttles, "12 writers against a 30-event queue never saw a 429"
        for retry_after, body, content_type in throttles:
            assert body["status"] == 429
            assert content_type.startswith("application/problem+json")
            assert retry_after is not None and int(retry_after) >= 1
        rows = live.ctx.store.calls(EVERYTHING.with_filter("project", ["bp"]), ["id"], 100_000)
        stored = {r["id"] for r in rows}
        assert acked <= stored
        assert len(acked) + 20 * len(refused) == 12 * 12 * 20
        assert not stored & {e["id"] for b in refused for e in b}  # a 429 stored nothing
        # A client that honours 429 gets everything in.
        with live.client(key) as c:
            for batch in refused:
                while (r := c.post("/v1/events", json={"events": batch})).status_code == 429:
                    time.sleep(0.05)
                assert r.json()["accepted"] == 20
        rows = live.ctx.store.calls(EVERYTHING.with_filter("project", ["bp"]), ["id"], 100_000)
        assert len(rows) == len({r["id"] for r in rows}) == 12 * 12 * 20
    finally:
        stop_server(server, thread)
        live.meta.close()
