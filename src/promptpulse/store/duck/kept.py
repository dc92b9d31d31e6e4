"""Summaries of the raw calls kept in memory, for questions every dashboard asks and whose answer
is otherwise a scan of every call (change markers, the busiest minute).

One process owns a DuckDB file, so the summary cannot be made stale by another writer: it is
built by one scan when first asked, folded into by the writer's commits, and thrown away when
calls are deleted (retention, erasure) so that the next question scans again.

The writer only hands a commit's calls over; the next reader summarises and folds them before it
answers (or the writer itself, in bulk, once FOLD_AT calls wait). Folding every commit in the
writer made each acknowledgement wait for it, and cost ingest ~8 % of the writer's time as soon
as a dashboard had asked once (py-spy under `bench.sustained`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa

Summary = TypeVar("Summary")  # what is kept: built from a scan, folded into
Batch = TypeVar("Batch")  # one commit's calls, summarised
Answer = TypeVar("Answer")
log = logging.getLogger("promptpulse.store")

FOLD_AT = 100_000  # committed calls waiting for a reader, at most: then the writer folds them


class KeptSummary(Generic[Summary, Batch]):
    """Subclasses say which columns a commit's calls are kept by (`columns`), how a batch is
    summarised (`summarise`) and how it is folded into the summary (`fold`). Readers see the
    summary under its lock (`read`), so a fold never changes it while they look."""

    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building = threading.Lock()  # one scan at a time: a second asker waits for it
        self._kept: Summary | None = None
        self._during_build: list[pa.Table] | None = None  # calls committed while it scans
        self._pending: list[pa.Table] = []  # the writer's open transaction
        self._unfolded: list[pa.Table] = []  # committed, not yet in _kept (under _lock)
        self._unfolded_rows = 0
        self._folding = threading.Lock()  # one fold at a time: a second reader waits for it
        self._generation = 0  # bumped by every invalidation: a build begun before is dropped

    # -- what a subclass says
    def summarise(self, calls: pa.Table) -> Batch:
        raise NotImplementedError

    def fold(self, into: Summary, batch: Batch) -> None:
        raise NotImplementedError

    # -- readers
    def read(self, build: Callable[[], Summary], answer: Callable[[Summary], Answer]) -> Answer:
        """`answer` of the summary (built by `build`, a scan of every stored call, if needed),
        with every committed call folded in."""
        self._fold_unfolded()
        with self._lock:
            if self._kept is not None:
                return answer(self._kept)
        with self._building:
            with self._lock:
                if self._kept is not None:  # built while this one waited
                    return answer(self._kept)
                generation = self._generation
                self._during_build = []
            built = build()  # outside _lock: commits meanwhile land in _during_build
            with self._lock:  # held while folding: a commit now must find _kept set
                during, self._during_build = self._during_build or [], None
                if during:  # committed while the scan ran
                    self.fold(built, self.summarise(_concat(during)))
                if generation == self._generation:
                    self._kept = built
                return answer(built)

    # -- the writer
    def stage(self, calls: pa.Table) -> None:
        """Calls inserted by the writer's transaction (counted once it commits)."""
        self._pending.append(calls.select(list(self.columns)))

    def committed(self) -> None:
        """The writer's transaction committed. Never raises: the calls are stored whatever
        happens here, so a summary that cannot take them is thrown away instead."""
        try:
            self._fold_pending()
        except Exception:
            log.exception("kept summary %s dropped after a failed fold", type(self).__name__)
            self.invalidate()

    def _fold_pending(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        calls = _concat(pending)
        with self._lock:  # kept only once asked: until then the next scan sees these calls
            if self._during_build is not None:
                self._during_build.append(calls)
            if self._kept is not None:
                self._unfolded.append(calls)
                self._unfolded_rows += calls.num_rows
            due = self._unfolded_rows >= FOLD_AT
        if due:  # nobody read for a while: fold in bulk here rather than keep the calls
            self._fold_unfolded()

    def _fold_unfolded(self) -> None:
        """Summarise the committed calls waiting for a reader and fold them into the summary.
        Never raises: a summary that cannot take them is thrown away (the next read scans)."""
        with self._folding:
            with self._lock:
                waiting, self._unfolded, self._unfolded_rows = self._unfolded, [], 0
                generation = self._generation
            if not waiting:
                return
            try:
                batch = self.summarise(_concat(waiting))  # outside _lock: commits go on
                with self._lock:
                    if self._kept is not None and generation == self._generation:
                        self.fold(self._kept, batch)
            except Exception:
                log.exception("kept summary %s dropped after a failed fold", type(self).__name__)
                self.invalidate()

    def rolled_back(self) -> None:
        self._pending = []

    # -- deletions
    def invalidate(self) -> None:
        """Calls were deleted: the next question scans again."""
        with self._lock:
            self._kept = None
            self._unfolded, self._unfolded_rows = [], 0
            self._generation += 1


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table of several commits' calls (a column all null in one commit may be typed null)."""
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


def add_up(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts summed per key: the sorted distinct keys and each one's total (how summaries
    merge a commit's part, or several days or projects, into one)."""
    unique, where = np.unique(keys, return_inverse=True)
    return unique, np.bincount(where, weights=counts, minlength=len(unique)).astype(np.int64)
