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

It happens in a thread of its own, beside the writer's transactions (they append to other
tables, so DuckDB lets both commit): in the writer's thread, between two of its transactions,
each catch-up held every request queued behind it, and ingest ran at 63k-74k events/s instead of
77k-78k (docs/performance.md). Catching up moves `sketched_through`, so only one transaction may
do it at a time: whoever does holds the store's maintenance lock (compaction, retention and
carrying catch up themselves first).
"""

from __future__ import annotations

import logging
import threading
import time

import duckdb

from promptpulse.store.duck import rollup_sql

log = logging.getLogger("promptpulse.rollups")

EVERY_CALLS = 100_000  # catch up once this many calls are unsketched...
EVERY_S = 10.0  # ...or this long after the last catch-up, if any are


class SketchLag:
    """The writer transactions' sequence numbers, and a thread that catches the sketches up
    when they are due. `con`: a cursor of its own, kept for that thread; `maintenance`: the
    store's lock, held while catching up."""

    def __init__(self, con: duckdb.DuckDBPyConnection, maintenance: threading.Lock) -> None:
        row = con.execute(
            f"SELECT {rollup_sql.MARK}, max(commit_seq), "
            f"count(*) FILTER (WHERE {rollup_sql.UNSKETCHED}) FROM events"
        ).fetchall()[0]  # all: a result left open would keep its transaction open
        self._lock = threading.Lock()
        self._sketched = int(row[0])  # the mark as this process last moved it (or lower)
        self._last = max(self._sketched, int(row[1] or 0))  # the newest number handed out
        self._in_flight: set[int] = set()  # numbers of transactions not yet ended
        self._unsketched = int(row[2])  # calls committed since the last catch-up (about)
        self._caught_up_at = time.monotonic()
        self._taken = (0, self._caught_up_at)  # what the last catch_up counted as caught up
        self._con = con
        self._maintenance = maintenance
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="promptpulse-sketches", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(EVERY_S)
            self._wake.clear()
            if self._stop:
                return
            if not self.due():
                continue
            with self._maintenance:
                if not self.due():  # maintenance caught up while this thread waited
                    continue
                try:
                    self.catch_up_alone(self._con)
                except duckdb.Error:  # behind a while longer: queries still count those calls
                    log.exception("the sketches could not catch up; trying again later")

    def close(self) -> None:
        """Stop the thread, then catch up what is left (the file keeps its sketches whole)."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        try:
            with self._maintenance:
                self.catch_up_alone(self._con)
        except duckdb.Error:  # the next start counts them as unsketched: nothing is lost
            log.exception("the sketches could not catch up before closing")
        finally:
            self._con.close()

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
            wake = calls > 0 and self._due()
        if wake:
            self._wake.set()

    def figures(self) -> dict[str, tuple[float, str]]:
        """For /metrics (Store.load): name -> (value, what it is)."""
        with self._lock:
            waiting = self._unsketched
            since = time.monotonic() - self._caught_up_at if waiting else 0.0
        return {
            "unsketched_calls": (
                float(waiting),
                "calls committed since the rollup sketches last caught up (about)",
            ),
            "sketch_lag_seconds": (
                since,
                "seconds since the sketches last caught up, while calls wait",
            ),
        }

    def due(self) -> bool:
        with self._lock:
            return self._due()

    def _due(self) -> bool:  # under self._lock
        if self._unsketched >= EVERY_CALLS:
            return True
        return self._unsketched > 0 and time.monotonic() - self._caught_up_at >= EVERY_S

    def catch_up(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """Fold the unsketched calls into the sketch tables: the first statements of the
        caller's transaction (DuckDB takes its snapshot at the first read, so after the mark is
        chosen). Only through the oldest writer transaction still open: its calls, once
        committed, stay above it. Returns the new mark; None: nothing committed since, and
        nothing written. The first call of its transaction: if that rolls back, the caller
        says so (`rolled_back`)."""
        through = self._through()
        if through <= self._sketched:
            return None
        rollup_sql.catch_up_sketches(con, through)
        return through

    def _through(self) -> int:
        with self._lock:
            self._taken = (self._unsketched, self._caught_up_at)
            self._unsketched = 0
            self._caught_up_at = time.monotonic()
            return min(self._in_flight) - 1 if self._in_flight else self._last

    def rolled_back(self) -> None:
        """The transaction of the last `catch_up` did not commit: its calls wait still (so
        /metrics and the next `due` count them)."""
        with self._lock:
            calls, since = self._taken
            self._taken = (0, since)
            self._unsketched += calls
            self._caught_up_at = min(self._caught_up_at, since)

    def catch_up_alone(self, con: duckdb.DuckDBPyConnection) -> None:
        """`catch_up` in a transaction of its own."""
        con.execute("BEGIN TRANSACTION")
        try:
            through = self.catch_up(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self.rolled_back()
            raise
        if through is not None:
            self._sketched = through
