"""Backpressure bounded in time (issue 17, item 9): once the writer's queue holds more than
`queue_seconds` of work at its recent commit rate, a write is refused at once (429, with a
Retry-After), long before the event bound; and the event loop is never the one parsing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from promptpulse.config import Settings
from promptpulse.errors import Overloaded
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.ingest.writer import Writer
from promptpulse.store import Store, open_store

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def batch(tag: str, n: int) -> pa.Table:
    events = [
        {"id": f"{tag}-{i}", "timestamp": "2026-02-28T12:00:00Z", "model": "m", "latency_ms": 1}
        for i in range(n)
    ]
    body = orjson.dumps({"events": events})
    return prepare_events(
        body, key_project="p", overrides=lambda *a: None, now=NOW, max_events=100_000
    ).table


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(Settings(data_dir=tmp_path))
    yield s
    s.close()


def test_a_queue_holding_more_than_its_seconds_of_work_answers_429(store: Store) -> None:
    writer = Writer(store, queue_events=1_000_000, queue_seconds=0.001)
    gate, inside = threading.Event(), threading.Event()
    blocking = threading.Event()

    def hold(_seconds: float, _rows: int) -> None:  # keeps the writer busy after a commit
        if blocking.is_set():
            inside.set()
            gate.wait()

    writer.add_listener(hold)
    writer.start()
    try:
        writer.write_sync("events", batch("a", 2000))
        assert writer.backlog_seconds(10_000) == 0  # a first, cold commit is no measure
        writer.write_sync("events", batch("a2", 2000))  # the writer learns its rate
        assert writer.backlog_seconds(10_000) > 0
        blocking.set()
        first = threading.Thread(target=writer.write_sync, args=("events", batch("b", 10)))
        first.start()
        inside.wait()  # the writer is held: what comes now waits in the queue
        queued = threading.Thread(target=writer.write_sync, args=("events", batch("c", 2000)))
        queued.start()
        while writer.pending_events == 0:
            threading.Event().wait(0.001)
        with pytest.raises(Overloaded) as refused:
            asyncio.run(writer.write("events", batch("d", 2000)))
        assert refused.value.retry_after_s >= 1
        assert "s of work queued" in refused.value.detail
        gate.set()
        first.join()
        queued.join()
    finally:
        gate.set()
        writer.stop()


def test_with_no_time_bound_only_the_event_bound_applies(store: Store) -> None:
    writer = Writer(store, queue_events=1_000_000, queue_seconds=0)
    writer.start()
    try:
        writer.write_sync("events", batch("a", 100))
        assert writer.write_sync("events", batch("b", 100)).accepted == 100
    finally:
        writer.stop()
