"""One deadline for all of a request's statements, and cancellation when its client goes away
(issue 17, item 10), on the real DuckDB store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable
from promptpulse.model import CATALOG, Scope
from promptpulse.store import Deadline, deadline
from promptpulse.store.duck import DuckStore

HEAVY = "SELECT count(*) AS n FROM range(100000000000) a WHERE a.range % 7 = 3"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckStore]:
    s = DuckStore(Settings(data_dir=tmp_path).duckdb_path, query_timeout_s=60)
    yield s
    s.close()


def test_the_deadline_spans_every_statement_of_a_request(store: DuckStore) -> None:
    clock = Clock()
    with deadline.active(Deadline(2.0, clock)):
        assert store._records("SELECT 1 AS x", [])[0]["x"] == 1  # within the 2 s
        clock.now = 1.5
        assert store._records("SELECT 2 AS x", [])[0]["x"] == 2  # 0.5 s left: still runs
        clock.now = 2.5  # the first statements used the request's time up
        with pytest.raises(StoreUnavailable, match="request took longer than 2 s"):
            store._records("SELECT 3 AS x", [])
    assert store._records("SELECT 4 AS x", [])[0]["x"] == 4  # outside a request: no deadline


def test_a_cancelled_request_interrupts_its_running_query(store: DuckStore) -> None:
    request = Deadline(600)
    failure: list[BaseException] = []

    def run() -> None:
        with deadline.active(request):
            try:
                store._records(HEAVY, [])
            except BaseException as exc:
                failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    while request.watched == 0 and worker.is_alive():  # the statement is running
        threading.Event().wait(0.005)
    request.cancel("the client went away")
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert isinstance(failure[0], StoreUnavailable)
    assert "client went away" in str(failure[0])


def test_queries_the_store_runs_in_its_own_threads_carry_the_deadline(
    store: DuckStore,
) -> None:
    cancelled = Deadline(600)
    cancelled.cancel("the client went away")
    scope = Scope(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    metrics = [CATALOG["requests"], CATALOG["latency_p95_ms"], CATALOG["active_users"]]
    with deadline.active(cancelled), pytest.raises(StoreUnavailable, match="went away"):
        store.aggregate(scope, metrics)


def test_a_query_over_the_memory_limit_is_unavailable_not_an_error(tmp_path: Path) -> None:
    """DuckDB's out-of-memory error (a big query, or many at once) is a 503 to retry."""
    s = DuckStore(tmp_path / "events.duckdb", memory_limit="20MB", threads=1)
    try:
        holistic = "SELECT list(range) AS l FROM range(20000000)"  # cannot spill to disk
        with pytest.raises(StoreUnavailable, match="MEMORY_LIMIT"):
            s._records(holistic, [])
        assert s._records("SELECT 1 AS x", [])[0]["x"] == 1  # and the store still answers
    finally:
        s.close()
