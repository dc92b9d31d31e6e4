"""Two replicas on one ClickHouse engine (two stores: two clients, two writers, each with its
own in-memory index): a call whose copies reach both at the same moment counts once, the first
stored copy wins, rollups agree with raw calls after compaction; a failed insert leaves nothing
that a retry would count twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.errors import StoreUnavailable
from promptpulse.ingest.writer import Writer
from promptpulse.model import CATALOG, Dimension, Scope
from promptpulse.store.click import ClickStore
from tests.store.conftest import END, T0, make_calls, make_scores, write

ALL = Scope(T0, END)
REQUESTS, LATENCY_SUM = CATALOG["requests"], CATALOG["latency_mean_ms"]


def altered(calls: pa.Table, latency: float) -> pa.Table:
    """The same calls (same keys) with other values: which copy was stored shows."""
    i = calls.schema.get_field_index("latency_ms")
    return calls.set_column(i, "latency_ms", pa.array(np.full(calls.num_rows, latency)))


def stored_latency(store: ClickStore) -> dict[tuple[str, str], float]:
    rows = store.calls(ALL, ["project", "id", "latency_ms"], 10**6)
    return {(r["project"], r["id"]): r["latency_ms"] for r in rows}


def by_project(store: ClickStore, rollups: bool) -> dict[str, int]:
    store.rollup_min_calls = 0 if rollups else 10**18
    rows = store.aggregate(ALL, [REQUESTS], [Dimension("project")], allow_approximate=True)
    return {r.group[0]: r["requests"] for r in rows}


def expected(calls: pa.Table) -> dict[str, int]:
    projects, counts = np.unique(
        calls.column("project").to_numpy(zero_copy_only=False), return_counts=True
    )
    return dict(zip(projects.tolist(), counts.tolist(), strict=True))


def test_copies_racing_through_two_replicas_count_once_and_the_first_wins(
    click_store: Callable[..., ClickStore],
) -> None:
    """The worst interleaving, made deterministic: both replicas check that the keys are new
    before either commits, then both insert."""
    a, b = click_store(database="race"), click_store(database="race")
    calls = make_calls(np.random.default_rng(1), 500)
    first, second = a.writer(), b.writer()
    first.begin(), second.begin()
    first.insert_events(altered(calls, 1.0))
    second.insert_events(altered(calls, 2.0))  # a's rows are not stored yet: both insert
    first.commit()
    second.commit()
    assert a.execute("SELECT count() FROM events")[0][0] == 2 * calls.num_rows  # two copies
    for store in (a, b):
        assert store.row_counts()["calls"] == calls.num_rows
        assert set(stored_latency(store).values()) == {1.0}  # the first stored copy
        assert by_project(store, rollups=False) == expected(calls)
    a.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    for store in (a, b):  # compaction rebuilt the days the views had counted twice
        assert by_project(store, rollups=True) == expected(calls)


def test_a_retry_through_another_replica_is_not_stored_again(
    click_store: Callable[..., ClickStore],
) -> None:
    """Replica b's in-memory index never saw a's calls: the store finds them by key, and b's
    answer calls them duplicates (not accepted), as a's own index would."""
    a = click_store(database="retry")
    b = click_store(database="retry")
    replica_b = Writer(b)  # running before a stores anything: its index is empty
    replica_b.start()
    calls = make_calls(np.random.default_rng(2), 400)
    try:
        assert write(a, "events", altered(calls, 1.0)) == (calls.num_rows, 0)
        retried = replica_b.write_sync("events", altered(calls, 2.0))
    finally:
        replica_b.stop()
    assert (retried.accepted, retried.duplicates) == (0, calls.num_rows)
    assert b.execute("SELECT count() FROM events")[0][0] == calls.num_rows  # no second copy
    assert set(stored_latency(b).values()) == {1.0}
    assert by_project(b, rollups=True) == by_project(a, rollups=False) == expected(calls)


def test_two_writers_at_once_store_each_call_once(click_store: Callable[..., ClickStore]) -> None:
    """Two real writer threads, one per replica, sending overlapping batches at once."""
    a, b = click_store(database="writers"), click_store(database="writers")
    calls = make_calls(np.random.default_rng(3), 3000)
    halves = [calls.slice(0, 2000), calls.slice(1000)]  # 1000 calls go to both
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def send(store: ClickStore, table: pa.Table) -> None:
        writer = Writer(store)
        writer.start()
        try:
            barrier.wait()
            for i in range(0, table.num_rows, 250):
                writer.write_sync("events", table.slice(i, 250))
        except BaseException as exc:
            errors.append(exc)
        finally:
            writer.stop()

    threads = [threading.Thread(target=send, args=p) for p in zip((a, b), halves, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    a.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    for store in (a, b):
        assert store.row_counts()["calls"] == calls.num_rows
        assert by_project(store, rollups=False) == expected(calls)
        assert by_project(store, rollups=True) == expected(calls)


def test_a_failed_commit_writes_nothing_and_a_retry_counts_once(
    click_store: Callable[..., ClickStore],
) -> None:
    """The engine goes away under a commit (its client is closed): the batch fails as a whole,
    nothing of it is stored; the client's retry stores it once. And a retry of a batch whose
    calls were stored but whose scores were not (a commit that failed half-way) stores the
    scores and not the calls again."""
    calls = make_calls(np.random.default_rng(4), 300)
    scores = make_scores(np.random.default_rng(4), calls, 50)
    broken = click_store(database="failed")
    writer = broken.writer()
    writer.begin()
    writer.insert_events(calls)
    writer.insert_scores(scores)
    broken.close()
    with pytest.raises((StoreUnavailable, Exception)):
        writer.commit()
    store = click_store(database="failed")
    assert store.row_counts() == {"calls": 0, "scores": 0}
    # Half-way: the calls are in, the scores never arrived.
    write(store, "events", calls)
    retry = click_store(database="failed")  # another replica: no memory of those calls
    accepted_scores, _ = write(retry, "scores", scores)
    write(retry, "events", calls)
    assert retry.row_counts() == {"calls": calls.num_rows, "scores": accepted_scores}
    assert retry.execute("SELECT count() FROM events")[0][0] == calls.num_rows
    assert by_project(retry, rollups=True) == expected(calls)
