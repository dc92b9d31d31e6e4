"""Ingest first (issue 12, sustained load): while the writer is busy, queries hold at most a
share of the machine.

Every DuckDB statement runs on all of DuckDB's threads, and the parse workers, the event loop
and the writer need those same cores. On 2 cores, four dashboards refreshing the Overview
without a pause took 41–77 % of the ingest rate, whatever the statements' concurrency
(docs/performance.md, "Sustained load"). So while the writer spends at least `BUSY_DUTY` of
its time committing, statements run one at a time in the order they asked, each is charged
the CPU it used (its thread's CPU time × the part of the cores it may use), and the next one
starts once that charge is paid back at `share` per second. Charged by wall time instead, a
statement slowed 4-5x by the ingest load paid 4-5x, and dashboards got a quarter of the calls
for the same ingest rate (docs/performance.md). Dashboards answer later under heavy ingest, and
the ingest rate holds. An idle or lightly fed server (the demo's traffic) is never slowed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from promptpulse.errors import StoreUnavailable

BUSY_WINDOW_S = 2.0  # the writer's recent past that says whether ingest is busy
BUSY_DUTY = 0.1  # busy: committing at least this part of that window
BURST_S = 1.0  # unused share kept for later, in seconds of share: a first refresh goes at once


class IngestShare:
    """The share of the machine's cores that queries may hold while ingest is busy."""

    def __init__(self, share: float, threads: int, cores: int) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"the query share must be more than 0 and at most 1, not {share}")
        self.share = share
        # A statement's CPU in machine-seconds, from its own thread's: DuckDB's calling thread
        # runs its part of the tasks, and the pool's other threads about as much each.
        self._spread = min(threads, cores) / cores
        self._commits: deque[tuple[float, float]] = deque()  # (when it ended, seconds)
        self._commits_lock = threading.Lock()
        # Under ingest, one statement at a time, in the order they asked (tickets): with a plain
        # lock some waited past their request's time while later ones went first.
        self._turns = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._gave_up: set[int] = set()
        self.waiting = 0  # statements waiting for their turn now
        self._debt = 0.0  # machine-seconds used beyond the share; paid back as time passes
        self._paid_at = time.monotonic()
        self.throttled = 0  # statements that waited for the share to come back
        self.refused = 0  # statements refused as busy: their turn would have come too late

    def committed(self, seconds: float) -> None:
        """Told by the writer after each commit, with its transaction's length."""
        now = time.monotonic()
        with self._commits_lock:
            self._commits.append((now, seconds))
            self._forget_before(now - BUSY_WINDOW_S)

    def busy(self) -> bool:
        with self._commits_lock:
            self._forget_before(time.monotonic() - BUSY_WINDOW_S)
            return sum(s for _, s in self._commits) >= BUSY_DUTY * BUSY_WINDOW_S

    @contextmanager
    def turn(self, until: float) -> Iterator[None]:
        """Inside: the statement's turn, at once unless ingest is busy. StoreUnavailable (a busy
        server, 503) when the turn would come after `until` (time.monotonic())."""
        if self.share >= 1 or not self.busy():
            yield
            return
        if not self._take_turn(until):
            raise self._refuse()
        try:
            owed_s = self._owed_s()
            if owed_s > 0:
                if time.monotonic() + owed_s > until:
                    raise self._refuse()
                self.throttled += 1
                time.sleep(owed_s)
            started = time.thread_time()
            try:
                yield
            finally:
                self._owed_s()  # the share earned while it ran, first
                self._debt += (time.thread_time() - started) * self._spread
        finally:
            self._next_turn()

    def figures(self) -> dict[str, tuple[float, str]]:
        """For /metrics (Store.load): name -> (value, what it is)."""
        return {
            "query_share_busy": (
                float(self.share < 1 and self.busy()),
                "1 while ingest is busy: queries hold at most PROMPTPULSE_QUERY_SHARE of the cores",
            ),
            "query_share_waiting": (float(self.waiting), "statements waiting for their turn now"),
            "query_share_throttled_total": (
                float(self.throttled),
                "statements that waited for the query share to come back",
            ),
            "query_share_refused_total": (
                float(self.refused),
                "statements refused as busy (503): their turn would have come after their time",
            ),
        }

    def _refuse(self) -> StoreUnavailable:
        """The 503 to raise for a statement refused as busy (counted)."""
        self.refused += 1
        return StoreUnavailable(
            "the server is busy ingesting: queries hold at most PROMPTPULSE_QUERY_SHARE of its "
            "cores meanwhile, and this one's turn would come after its time limit; retry"
        )

    def _take_turn(self, until: float) -> bool:
        with self._turns:
            ticket = self._next_ticket
            self._next_ticket += 1
            self.waiting += 1
            try:
                while self._serving != ticket:
                    left = until - time.monotonic()
                    if left <= 0:
                        self._gave_up.add(ticket)  # its turn is skipped when it comes
                        return False
                    self._turns.wait(left)
                return True
            finally:
                self.waiting -= 1

    def _next_turn(self) -> None:
        with self._turns:
            self._serving += 1
            while self._serving in self._gave_up:
                self._gave_up.discard(self._serving)
                self._serving += 1
            self._turns.notify_all()

    def _owed_s(self) -> float:
        """Seconds until the debt is paid back (negative: share in hand). In a turn."""
        now = time.monotonic()
        earned = (now - self._paid_at) * self.share
        self._debt = max(self._debt - earned, -self.share * BURST_S)
        self._paid_at = now
        return self._debt / self.share

    def _forget_before(self, t: float) -> None:
        while self._commits and self._commits[0][0] < t:
            self._commits.popleft()
