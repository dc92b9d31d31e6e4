"""How many DuckDB statements may run at once (issue 12, sustained load).

DuckDB runs every statement on all of its `threads`, and `threads` is one setting for the whole
database (a cursor's `SET threads` changes it for everyone; `SET SESSION` is refused). Four query
workers, with requests that fan out several statements each, took every core from the single
ingest writer: ingest fell by two thirds while four dashboards refreshed. The gate admits at most
`limit` statements at a time; the rest queue (bounded by their request's time) so a core stays
free for the writer, whose own cursor never passes through here. Under busy ingest, the admitted
statements also take turns within the ingest share (`ingest_share.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from promptpulse.errors import StoreUnavailable
from promptpulse.store.duck.ingest_share import IngestShare


class QueryGate:
    """A bounded number of statements running at once; 0: no bound."""

    def __init__(self, limit: int, share: IngestShare | None = None) -> None:
        if limit < 0:
            raise ValueError(f"query concurrency must be 0 (no bound) or more, not {limit}")
        self.limit = limit
        self.share = share
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._lock = threading.Lock()
        self.running = 0  # statements inside now
        self.waiting = 0  # statements queued at the gate now
        self.peak = 0  # most statements ever inside at once

    @contextmanager
    def admitted(self, wait_s: float) -> Iterator[None]:
        """Inside: one of the `limit` slots and, while ingest is busy, the statement's turn
        within the ingest share. Waits at most `wait_s` (the time the statement would have
        anyway) for both, then refuses as a busy server (503), not a failure."""
        until = time.monotonic() + max(wait_s, 0.0)
        if self._slots is not None:
            self._count(waiting=1)
            try:
                got = self._slots.acquire(timeout=max(wait_s, 0.0))
            finally:
                self._count(waiting=-1)
            if not got:
                raise StoreUnavailable(
                    f"the server is busy: no query slot came free within {wait_s:g} s "
                    "(PROMPTPULSE_QUERY_CONCURRENCY); retry"
                )
        try:
            with self.share.turn(until) if self.share else nullcontext():
                self._count(running=1)
                try:
                    yield
                finally:
                    self._count(running=-1)
        finally:
            if self._slots is not None:
                self._slots.release()

    def figures(self) -> dict[str, tuple[float, str]]:
        """For /metrics (Store.load): name -> (value, what it is)."""
        out = {
            "query_gate_running": (float(self.running), "DuckDB statements running now"),
            "query_gate_waiting": (
                float(self.waiting),
                "statements waiting for a slot now (PROMPTPULSE_QUERY_CONCURRENCY)",
            ),
        }
        return (out | self.share.figures()) if self.share else out

    def _count(self, running: int = 0, waiting: int = 0) -> None:
        with self._lock:
            self.running += running
            self.waiting += waiting
            self.peak = max(self.peak, self.running)
