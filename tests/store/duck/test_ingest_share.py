"""The ingest share (issue 12, sustained load): while the real writer is busy committing, DuckDB
statements take turns and wait for the share to come back; with ingest idle they run together
at once. Told apart by what the gate counts (statements inside at once, turns waited for),
never by how long anything took."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable
from promptpulse.ingest.writer import Writer
from promptpulse.store import open_store
from promptpulse.store.duck import DuckStore
from promptpulse.store.duck.ingest_share import IngestShare
from tests.store.conftest import make_calls
from tests.store.duck.test_query_gate import held_statements, settle

# A statement that takes a moment (hashing 20 M numbers), so that its charge counts.
STATEMENT = "SELECT count(*) AS n FROM range(20000000) WHERE hash(range) % 3 = 0"


def open_duck(tmp_path: Path, share: float) -> DuckStore:
    store = open_store(Settings(data_dir=tmp_path, query_share=share))
    assert isinstance(store, DuckStore)
    return store


@contextmanager
def busy_ingest(store: DuckStore) -> Iterator[None]:
    """The real writer committing batches back to back until the block ends."""
    writer = Writer(store)
    writer.start()
    stop = threading.Event()

    def feed() -> None:
        rng = np.random.default_rng(3)
        n = 0
        while not stop.is_set():
            writer.write_sync("events", make_calls(rng, 4000, id_prefix=f"b{n}-"))
            n += 1

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        share = store.gate.share
        assert share is not None
        for _ in range(3000):  # until the writer has committed for a while (bounded)
            if share.busy():
                break
            stop.wait(0.01)
        assert share.busy(), "the writer never looked busy"
        yield
    finally:
        stop.set()
        feeder.join(120)
        writer.stop()


def count_rows(store: DuckStore, answers: list[int]) -> None:
    for _ in range(2):
        answers.append(int(store._records(STATEMENT, [])[0]["n"]))


def test_under_busy_ingest_statements_take_turns_and_wait_for_the_share(tmp_path: Path) -> None:
    # A statement costs its CPU (~0.1 s here), whatever ingest does to its wall time: six of
    # them owe far more than 0.02 of the machine earns back while they run.
    store = open_duck(tmp_path, 0.02)
    try:
        expected: list[int] = []
        count_rows(store, expected)  # ingest idle
        answers: list[int] = []
        with busy_ingest(store):
            readers = [threading.Thread(target=count_rows, args=(store, answers)) for _ in range(3)]
            for t in readers:
                t.start()
            for t in readers:
                t.join(300)
        share = store.gate.share
        assert share is not None
        assert answers == [expected[0]] * 6  # every statement ran, and answered right
        assert store.gate.peak == 1  # one at a time, though three readers asked at once
        assert share.throttled > 0  # some waited for the share to come back
    finally:
        store.close()


def test_with_ingest_idle_statements_run_together_at_once(tmp_path: Path) -> None:
    store = open_duck(tmp_path, 0.2)
    try:
        threads, inside, release = held_statements(store, 6)
        settle(store, running=6, waiting=0, inside=inside)  # all six inside together
        release.set()
        for t in threads:
            t.join(60)
        assert store.gate.share is not None and store.gate.share.throttled == 0
    finally:
        store.close()


def spin_cpu(seconds: float) -> None:
    """Use this much CPU on this thread: what the share charges (a sleep costs nothing)."""
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def test_a_sleeping_statement_costs_nothing_a_busy_one_its_cpu() -> None:
    """Charged by CPU, not wall time: under heavy ingest a statement's wall time grows 4-5x
    while its CPU does not, and a wall-time charge gave dashboards a quarter of the calls."""
    share = IngestShare(0.1, threads=2, cores=2)
    share.committed(1.0)  # busy
    with share.turn(time.monotonic() + 60):
        time.sleep(0.5)  # waiting (for I/O, or for a core): not charged
    with share.turn(time.monotonic() + 60):
        pass
    assert share.throttled == 0
    with share.turn(time.monotonic() + 60):
        spin_cpu(0.3)
    with share.turn(time.monotonic() + 60):
        pass
    assert share.throttled == 1


def test_a_turn_that_would_come_after_the_time_left_is_refused_as_busy() -> None:
    share = IngestShare(0.1, threads=2, cores=2)
    share.committed(1.0)  # the writer committed half of the last two seconds: busy
    with share.turn(time.monotonic() + 60):
        spin_cpu(0.5)  # 0.5 machine-seconds used, 0.1 in hand: ~4 s owed
    share.committed(1.0)
    with (
        pytest.raises(StoreUnavailable, match="busy ingesting"),
        share.turn(time.monotonic() + 0.5),
    ):
        pass
    figures = share.figures()  # what /metrics shows (promptpulse_store_query_share_*)
    assert figures["query_share_refused_total"][0] == share.refused == 1
    assert figures["query_share_busy"][0] == 1
    share_idle = IngestShare(0.1, threads=2, cores=2)
    share_idle.committed(0.05)  # a light feed (the demo's): not busy, never waits
    with share_idle.turn(time.monotonic()):
        pass
    assert share_idle.throttled == 0
    assert share_idle.figures()["query_share_busy"][0] == 0


def test_turns_come_in_the_order_asked_and_one_that_gave_up_is_skipped() -> None:
    """With a plain lock, some statements waited past their request's time while later ones
    went first (2 of 54 dashboard calls refused in bench.sustained)."""
    share = IngestShare(0.5, threads=1, cores=1000)  # charges too small to owe anything
    share.committed(1.0)  # busy
    holding, release = threading.Event(), threading.Event()
    order: list[int] = []

    def holder() -> None:
        with share.turn(time.monotonic() + 60):
            holding.set()
            release.wait(60)

    def asker(i: int) -> None:
        with share.turn(time.monotonic() + 60):
            order.append(i)

    def queued(n: int) -> None:
        for _ in range(6000):  # until `n` wait for their turn (bounded)
            if share.waiting == n:
                return
            release.wait(0.01)
        raise AssertionError(f"{share.waiting} waiting, not {n}")

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(60)
    askers = []
    for i in range(4):
        share.committed(1.0)  # busy still, however slow the machine
        if i == 2:  # this one gives up in the queue: the ones after it still get their turns
            with pytest.raises(StoreUnavailable, match="busy"), share.turn(time.monotonic() + 0.05):
                pass
        askers.append(threading.Thread(target=asker, args=(i,)))
        askers[-1].start()
        queued(len(askers))
    share.committed(1.0)  # still busy
    release.set()
    for t in [first, *askers]:
        t.join(60)
    assert order == [0, 1, 2, 3]
    assert share.waiting == 0


@pytest.mark.parametrize("bad", [0, -0.5, 1.5])
def test_a_share_outside_0_to_1_is_refused_naming_the_setting(bad: float) -> None:
    with pytest.raises(ValidationError, match="query_share"):
        Settings(query_share=bad)


def test_one_means_no_bound(tmp_path: Path) -> None:
    store = open_duck(tmp_path, 1.0)
    try:
        assert store.gate.share is None
    finally:
        store.close()
