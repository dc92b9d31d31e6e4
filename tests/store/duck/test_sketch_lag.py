"""Sketches a little behind the calls (store/duck/sketch_lag.py), in a real DuckDB file: a query
answers the same whether a call's sketch fragments were caught up or not; catching up never
loses a call nor counts one twice, after a crash, with a writer transaction still open, and
around retention, rebuilds, erasure and compaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from promptpulse.model import Dimension, Filter, Scope
from promptpulse.store.duck import DuckStore, rollup_sql, sketch_lag
from tests.rollups.helpers import random_calls, write_direct
from tests.store.duck.test_rollups import T0, assert_close, figures

CASES = [
    (Scope(T0, T0 + timedelta(days=4)), (), None),
    (Scope(T0 + timedelta(hours=3), T0 + timedelta(days=3, hours=5)), (Dimension("model"),), "day"),
    (
        Scope(T0, T0 + timedelta(days=2), (Filter("environment", ("prod",)),)),
        (Dimension("prompt_id"),),
        "hour",
    ),
]


def answers(store: DuckStore) -> list[dict[tuple[object, ...], dict[str, object]]]:
    return [figures(store, scope, group_by, interval, True) for scope, group_by, interval in CASES]


def assert_same(got: list[dict], want: list[dict]) -> None:
    """The same answers: percentiles and distinct counts identical (the same sketches, merged
    from other fragments), sums up to the order they were added in."""
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key in w:
            for name, value in w[key].items():
                if value is None or name.startswith(("latency_p", "ttft_p", "active_users")):
                    assert g[key][name] == value, (key, name)
                else:
                    assert g[key][name] == pytest.approx(value, rel=1e-12), (key, name)


def catch_up(store: DuckStore) -> None:
    with store._maintenance, store._con.cursor() as cur:
        store._sketch_lag.catch_up_alone(cur)


def unsketched(store: DuckStore) -> int:
    return store.execute(
        "SELECT count(*) FROM events WHERE commit_seq > (SELECT max(seq) FROM sketched_through)"
    )[0][0]


def assert_sketches_whole(store: DuckStore) -> None:
    """Every sketched call is in the latency sketch once, per hour (hour and day levels: a
    day's fragments not folded yet are its hours' uncompacted ones); no unsketched one is."""
    for level in ("hour", "day"):
        unfolded = (
            " UNION ALL SELECT date_trunc('day', bucket), n FROM rollup_hour_q_latency_ms "
            "WHERE NOT compacted"
            if level == "day"
            else ""
        )
        sums = store.execute(
            f"SELECT b, sum(n) FROM (SELECT bucket AS b, n FROM rollup_{level}_q_latency_ms"
            f"{unfolded}) GROUP BY b ORDER BY b"
        )
        calls = store.execute(
            f"SELECT date_trunc('{level}', timestamp) AS b, count(*) FROM events WHERE "
            "commit_seq <= (SELECT max(seq) FROM sketched_through) GROUP BY b ORDER BY b"
        )
        assert sums == calls, level


@pytest.fixture(autouse=True)
def never_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catch-up thread stays idle unless a test says otherwise."""
    monkeypatch.setattr(sketch_lag, "EVERY_CALLS", 10**12)
    monkeypatch.setattr(sketch_lag, "EVERY_S", 3600.0)


def wait_until(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "not caught up within 30 s"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path: Path):
    s = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=0)
    yield s
    s.close()


def test_answers_are_the_same_sketched_or_not(store: DuckStore) -> None:
    rng = np.random.default_rng(5)
    for _ in range(3):  # three commits, none caught up
        write_direct(store, random_calls(rng, 3_000, T0, T0 + timedelta(days=4), "p"))
    assert unsketched(store) == store.rollup_stats()["unsketched_calls"] == 9_000
    assert store.execute("SELECT count(*) FROM rollup_hour_q_latency_ms")[0][0] == 0
    lagging = answers(store)
    for (scope, group_by, interval), got in zip(CASES, lagging, strict=True):
        assert_close(got, figures(store, scope, group_by, interval, False), scope)
    catch_up(store)
    assert unsketched(store) == store.rollup_stats()["unsketched_calls"] == 0
    assert_sketches_whole(store)
    assert_same(answers(store), lagging)  # the same sketches, merged from other fragments
    write_direct(store, random_calls(rng, 2_000, T0, T0 + timedelta(days=4), "p"))
    half = answers(store)  # 9,000 calls sketched, 2,000 not
    catch_up(store)
    assert_same(answers(store), half)
    for (scope, group_by, interval), got in zip(CASES, half, strict=True):
        assert_close(got, figures(store, scope, group_by, interval, False), scope)


def test_the_thread_catches_up_once_enough_calls_wait(
    store: DuckStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch_lag, "EVERY_CALLS", 2_500)
    rng = np.random.default_rng(6)
    write_direct(store, random_calls(rng, 2_000, T0, T0 + timedelta(days=1), "p"))
    assert unsketched(store) == 2_000  # not due yet
    with store._maintenance:  # a long compaction, say: the thread waits, ingest does not
        write_direct(store, random_calls(rng, 1_000, T0, T0 + timedelta(days=1), "p"))
        write_direct(store, random_calls(rng, 500, T0, T0 + timedelta(days=1), "p"))
        assert unsketched(store) == 3_500
    wait_until(lambda: unsketched(store) == 0)
    assert_sketches_whole(store)


def test_the_thread_catches_up_a_few_calls_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketch_lag, "EVERY_S", 0.2)
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=0)
    try:
        calls = random_calls(np.random.default_rng(8), 10, T0, T0 + timedelta(hours=1), "p")
        write_direct(store, calls)
        wait_until(lambda: unsketched(store) == 0)
        assert_sketches_whole(store)
    finally:
        store.close()


def test_an_open_writer_transaction_stays_above_the_mark(store: DuckStore) -> None:
    rng = np.random.default_rng(9)
    slow, fast = store.writer(), store.writer()
    slow.begin()
    slow.insert_events(random_calls(rng, 700, T0, T0 + timedelta(hours=5), "p"))
    fast.begin()
    fast.insert_events(random_calls(rng, 300, T0, T0 + timedelta(hours=5), "p"))
    fast.commit()
    catch_up(store)  # the slow transaction's number is older than the fast one's
    slow.commit()
    assert unsketched(store) == 1_000  # nothing was marked sketched past the open one
    assert_sketches_whole(store)
    catch_up(store)
    assert unsketched(store) == 0
    assert_sketches_whole(store)
    assert store.rollup_stats()["hour"]["calls"] == 1_000


def test_calls_of_a_killed_writer_are_caught_up_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from pathlib import Path
        from promptpulse.store.duck import DuckStore
        from tests.rollups.helpers import random_calls, write_direct
        from tests.store.duck.test_rollups import T0
        from datetime import timedelta
        s = DuckStore(Path({str(path)!r}), rollup_min_calls=0)
        rng = np.random.default_rng(10)
        for _ in range(2):
            write_direct(s, random_calls(rng, 2_000, T0, T0 + timedelta(days=4), "p"))
        os.kill(os.getpid(), 9)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[3])
    assert killed.returncode == -9
    s = DuckStore(path, rollup_min_calls=0)
    try:
        assert unsketched(s) == 4_000  # committed, never caught up
        lagging = answers(s)
        for (scope, group_by, interval), got in zip(CASES, lagging, strict=True):
            assert_close(got, figures(s, scope, group_by, interval, False), scope)
        s.compact_rollups(T0 + timedelta(days=10), timedelta(hours=1))  # catches up first
        assert unsketched(s) == 0
        assert_sketches_whole(s)
        assert_same(answers(s), lagging)
    finally:
        s.close()


def test_retention_rebuild_and_erasure_with_calls_not_caught_up(store: DuckStore) -> None:
    rng = np.random.default_rng(12)
    calls = random_calls(rng, 6_000, T0, T0 + timedelta(days=4), "p")
    write_direct(store, calls.slice(0, 3_000))
    catch_up(store)
    write_direct(store, calls.slice(3_000))  # unsketched
    before = answers(store)
    # A rebuild of the sketched and unsketched calls alike: none counted twice after catching up.
    assert store.rebuild_rollups(T0, T0 + timedelta(days=4)) == {"p": 6_000}
    assert unsketched(store) == 3_000
    assert_sketches_whole(store)
    assert_same(answers(store), before)
    catch_up(store)
    assert_sketches_whole(store)
    assert_same(answers(store), before)
    # Erase a user whose calls are partly unsketched: gone from every sketch.
    write_direct(store, random_calls(rng, 1_000, T0, T0 + timedelta(days=4), "p"))
    store.erase("p", "u7")
    assert store.execute("SELECT count(*) FROM events WHERE user_id = 'u7'")[0][0] == 0
    assert_sketches_whole(store)
    catch_up(store)
    assert_sketches_whole(store)
    kept = answers(store)
    for (scope, group_by, interval), got in zip(CASES, kept, strict=True):
        assert_close(got, figures(store, scope, group_by, interval, False), scope)
    # Retention deletes raw calls not caught up yet: they are sketched first, so the rollups
    # still answer for the deleted days exactly as before.
    write_direct(store, random_calls(rng, 1_000, T0, T0 + timedelta(days=2), "p"))
    assert unsketched(store) == 1_000
    whole = answers(store)
    store.apply_retention("raw", T0 + timedelta(days=2))
    assert unsketched(store) == 0
    assert_same(answers(store), whole)


def test_a_checkpoint_can_run_while_the_sketches_catch_up(store: DuckStore) -> None:
    """The background checkpointer must not fail for a catch-up in progress (an UPDATE of the
    mark did that, and under load the WAL then grew without a checkpoint)."""
    write_direct(
        store, random_calls(np.random.default_rng(13), 500, T0, T0 + timedelta(hours=2), "p")
    )
    catching_up, other = store._con.cursor(), store._con.cursor()
    catching_up.execute("BEGIN TRANSACTION")
    rollup_sql.catch_up_sketches(catching_up, store._sketch_lag._last)
    other.execute("CHECKPOINT")  # raised "other write transactions active" with an UPDATE
    catching_up.execute("COMMIT")
    assert unsketched(store) == 0
    assert_sketches_whole(store)


def test_metrics_show_the_calls_waiting_for_their_sketches(store: DuckStore) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from promptpulse.observability import ServerMetrics

    metrics = ServerMetrics()
    metrics.watch_store(store.load)

    def scraped() -> dict[str, float]:
        text = metrics.render().decode()
        return {
            s.name: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("promptpulse_store_")
        }

    rng = np.random.default_rng(9)
    write_direct(store, random_calls(rng, 1_200, T0, T0 + timedelta(days=1), "p"))
    write_direct(store, random_calls(rng, 300, T0, T0 + timedelta(days=1), "p"))
    got = scraped()
    assert got["promptpulse_store_unsketched_calls"] == unsketched(store) == 1_500
    assert got["promptpulse_store_sketch_lag_seconds"] > 0
    assert got["promptpulse_store_query_gate_running"] == 0
    catch_up(store)
    got = scraped()
    assert got["promptpulse_store_unsketched_calls"] == unsketched(store) == 0
    assert got["promptpulse_store_sketch_lag_seconds"] == 0


def test_a_failed_catch_up_leaves_its_calls_counted(
    store: DuckStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up whose transaction rolls back (here: the disk fails once it has written) left
    /metrics at 0 waiting calls, and `due` false, until new calls came, though every call still
    waited. The thread's catch-up and retention's, each failing once."""
    import duckdb

    def waiting() -> float:
        return store.load()["unsketched_calls"][0]

    real_catch_up, real_delete = rollup_sql.catch_up_sketches, rollup_sql.delete_raw

    def failing(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException("No space left on device (injected)")

    write_direct(
        store, random_calls(np.random.default_rng(17), 700, T0, T0 + timedelta(days=2), "p")
    )
    assert waiting() == unsketched(store) == 700

    monkeypatch.setattr(
        rollup_sql,
        "catch_up_sketches",
        lambda con, through: (real_catch_up(con, through), failing()),
    )
    with pytest.raises(duckdb.IOException):
        catch_up(store)
    assert waiting() == unsketched(store) == 700
    assert store.load()["sketch_lag_seconds"][0] > 0
    monkeypatch.setattr(rollup_sql, "catch_up_sketches", real_catch_up)

    monkeypatch.setattr(
        rollup_sql, "delete_raw", failing
    )  # after retention's catch-up, in its transaction
    with pytest.raises(duckdb.IOException):
        store.apply_retention("raw", T0 + timedelta(days=1))
    assert waiting() == unsketched(store) == 700
    monkeypatch.setattr(rollup_sql, "delete_raw", real_delete)

    catch_up(store)
    assert waiting() == unsketched(store) == 0
    assert_sketches_whole(store)
