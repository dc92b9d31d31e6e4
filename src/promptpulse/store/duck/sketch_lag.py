"""Sketch fragments a little behind the calls, caught up in bulk.

The writer used to add the hourly sketch fragments (latency and TTFT keys, the users' HyperLogLog
registers) to every commit. With eight text dimensions those are about one row per call per
sketch, and they cost a third of the ingest rate (docs/performance.md, "The sketch
write-through"). Now every writer transaction stamps its calls with a sequence number
(`events.commit_seq`), and `sketched_through` says up to which number the sketch tables hold
them. The calls past it are summarised on the fly by every query that reads sketches
(`rollup_sql.UNSKETCHED`), and `catch_up` folds them into the sketch tables once enough have
gathered: in one statement per sketch over many commits, it writes about half the rows per call.

Nothing is ever behind where it matters: the counts and sums (`rollup_hour`) are still written
with every commit, a query sees sketched and unsketched calls in one snapshot, and after a crash
the unsketched calls are simply still unsketched.

Catching up moves `sketched_through`, so only one transaction may do it at a time: callers hold
the store's maintenance lock (the writer only tries for it, and skips a turn rather than wait).
"""

from __future__ import annotations

import threading
import time

import duckdb

from promptpulse.store.duck import rollup_sql

EVERY_CALLS = 100_000  # catch up once this many calls are unsketched...
EVERY_S = 10.0  # ...or this long after the last catch-up, if any are


class SketchLag:
    """The writer transactions' sequence numbers, and when the sketches should catch up."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        row = con.execute(
            "SELECT (SELECT seq FROM sketched_through), max(commit_seq), "
            f"count(*) FILTER (WHERE {rollup_sql.UNSKETCHED}) FROM events"
        ).fetchone()
        assert row is not None
        self._lock = threading.Lock()
        self._last = max(int(row[0]), int(row[1] or 0))  # the newest number handed out
        self._in_flight: set[int] = set()  # numbers of transactions not yet ended
        self._unsketched = int(row[2])  # calls committed since the last catch-up (about)
        self._caught_up_at = time.monotonic()

    def begin(self) -> int:
        """A new writer transaction's number: larger than any before it."""
        with self._lock:
            self._last += 1
            self._in_flight.add(self._last)
            return self._last

    def end(self, seq: int, calls: int) -> None:
        """Transaction `seq` committed `calls` calls (0: rolled back)."""
        with self._lock:
            self._in_flight.discard(seq)
            self._unsketched += calls

    def due(self) -> bool:
        with self._lock:
            if self._unsketched >= EVERY_CALLS:
                return True
            return self._unsketched > 0 and time.monotonic() - self._caught_up_at >= EVERY_S

    def catch_up(self, con: duckdb.DuckDBPyConnection) -> None:
        """Fold the unsketched calls into the sketch tables: the first statements of the
        caller's transaction (its snapshot must come after the mark is chosen). Only through
        the oldest writer transaction still open: its calls, once committed, stay above it."""
        with self._lock:
            through = min(self._in_flight) - 1 if self._in_flight else self._last
            self._unsketched = 0
            self._caught_up_at = time.monotonic()
        rollup_sql.catch_up_sketches(con, through)

    def catch_up_alone(self, con: duckdb.DuckDBPyConnection) -> None:
        """`catch_up` in a transaction of its own."""
        con.execute("BEGIN TRANSACTION")
        try:
            self.catch_up(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
