"""The query gate (issue 12, sustained load): at most PROMPTPULSE_QUERY_CONCURRENCY DuckDB
statements run at once, the rest queue within their request's time, and the writer never queues.

Counted by the store itself: each statement holds its cursor open until the test lets it go, so
what is inside the gate at once is a state the test waits for, not a race it hopes to win."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable
from promptpulse.ingest.writer import Writer
from promptpulse.store import Deadline, deadline, open_store
from promptpulse.store.duck import DuckStore
from tests.store.conftest import make_calls

STATEMENTS = 8


def open_duck(tmp_path: Path, concurrency: int | None) -> DuckStore:
    bound = {} if concurrency is None else {"query_concurrency": concurrency}
    store = open_store(Settings(data_dir=tmp_path, **bound))
    assert isinstance(store, DuckStore)
    return store


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[DuckStore]:
    store = open_duck(tmp_path, 2)
    yield store
    store.close()


def held_statements(
    store: DuckStore, n: int
) -> tuple[list[threading.Thread], list[int], threading.Event]:
    """`n` threads that each run a statement and keep its cursor until `release` is set;
    `inside` records each one that got in (the statement's own answer)."""
    release = threading.Event()
    inside: list[int] = []

    def one(i: int) -> None:
        with store._cursor() as cur:
            row = cur.execute("SELECT ?::INTEGER", [i]).fetchall()
            inside.append(int(row[0][0]))
            release.wait(60)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, inside, release


def settle(store: DuckStore, running: int, waiting: int, inside: list[int] | None = None) -> None:
    """Until the gate counts `running` inside and `waiting` queued, and `inside` holds as many
    answers as are running (bounded)."""
    done = threading.Event()
    for _ in range(6000):
        gate = store.gate
        answered = inside is None or len(inside) == running
        if gate.running == running and gate.waiting == waiting and answered:
            return
        done.wait(0.01)
    raise AssertionError(f"gate: {store.gate.running} running, {store.gate.waiting} waiting")


def test_no_more_than_the_limit_run_at_once_and_the_rest_run_after(gated: DuckStore) -> None:
    threads, inside, release = held_statements(gated, STATEMENTS)
    settle(gated, running=2, waiting=STATEMENTS - 2, inside=inside)  # six queued, not started
    release.set()
    for t in threads:
        t.join(60)
    assert sorted(inside) == list(range(STATEMENTS))  # every one ran, each its own answer
    assert gated.gate.peak == 2
    assert (gated.gate.running, gated.gate.waiting) == (0, 0)


def test_zero_means_no_bound(tmp_path: Path) -> None:
    store = open_duck(tmp_path, 0)
    try:
        threads, inside, release = held_statements(store, STATEMENTS)
        settle(store, running=STATEMENTS, waiting=0, inside=inside)
        release.set()
        for t in threads:
            t.join(60)
        assert store.gate.peak == STATEMENTS
        assert sorted(inside) == list(range(STATEMENTS))
    finally:
        store.close()


def test_the_default_is_no_bound(tmp_path: Path) -> None:
    """Off unless set: bounding trades dashboard speed for ingest (docs/performance.md)."""
    store = open_duck(tmp_path, None)
    try:
        assert store.gate.limit == 0
    finally:
        store.close()


def test_a_request_whose_time_passes_in_the_queue_is_refused_as_busy(gated: DuckStore) -> None:
    threads, _, release = held_statements(gated, 2)
    settle(gated, running=2, waiting=0)
    try:
        with deadline.active(Deadline(0.2)), pytest.raises(StoreUnavailable, match="busy"):
            gated._records("SELECT 1 AS x", [])
        assert gated.gate.waiting == 0  # it left the queue
    finally:
        release.set()
        for t in threads:
            t.join(60)
    assert gated._records("SELECT 1 AS x", [])[0]["x"] == 1  # slots free again


def test_the_writer_does_not_queue_behind_readers(gated: DuckStore) -> None:
    calls = make_calls(np.random.default_rng(7), 50)
    writer = Writer(gated)
    writer.start()  # reads the stored keys once, through the gate, before the slots are taken
    threads, _, release = held_statements(gated, 2)
    settle(gated, running=2, waiting=0)
    try:
        result = writer.write_sync("events", calls)  # both read slots taken: it commits anyway
    finally:
        release.set()
        for t in threads:
            t.join(60)
        writer.stop()
    assert result.accepted == calls.num_rows
    assert gated.row_counts()["calls"] == calls.num_rows


def test_the_health_ping_does_not_queue(gated: DuckStore) -> None:
    threads, _, release = held_statements(gated, 2)
    settle(gated, running=2, waiting=0)
    try:
        gated.ping()  # both slots taken: answers anyway
        assert gated.gate.waiting == 0
    finally:
        release.set()
        for t in threads:
            t.join(60)


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="query_concurrency"):
        Settings(query_concurrency=-1)
