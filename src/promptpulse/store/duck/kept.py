"""Summaries of the raw calls kept in memory, for questions every dashboard asks and whose answer
is otherwise a scan of every call (change markers, the busiest minute).

One process owns a DuckDB file, so the summary cannot be made stale by another writer: it is
built by one scan when first asked, folded into by the writer's commits, and thrown away when
calls are deleted (retention, erasure) so that the next question scans again.
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


class KeptSummary(Generic[Summary, Batch]):
    """Subclasses say which columns a commit's calls are kept by (`columns`), how a batch is
    summarised (`summarise`) and how it is folded into the summary (`fold`). Readers see the
    summary under its lock (`read`), so a fold never changes it while they look."""

    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building = threading.Lock()  # one scan at a time: a second asker waits for it
        self._kept: Summary | None = None
        self._during_build: list[Batch] | None = None
        self._pending: list[pa.Table] = []  # the writer's open transaction
        self._generation = 0  # bumped by every invalidation: a build begun before is dropped

    # -- what a subclass says
    def summarise(self, calls: pa.Table) -> Batch:
        raise NotImplementedError

    def fold(self, into: Summary, batch: Batch) -> None:
        raise NotImplementedError

    # -- readers
    def read(self, build: Callable[[], Summary], answer: Callable[[Summary], Answer]) -> Answer:
        """`answer` of the summary (built by `build`, a scan of every stored call, if needed)."""
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
            with self._lock:
                for batch in self._during_build or []:
                    self.fold(built, batch)
                self._during_build = None
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
        with self._lock:
            unused = self._kept is None and self._during_build is None
        if not pending or unused:  # nobody asked yet: the scan will see these calls
            return
        batch = self.summarise(pa.concat_tables(pending))
        with self._lock:
            if self._kept is not None:
                self.fold(self._kept, batch)
            if self._during_build is not None:
                self._during_build.append(batch)

    def rolled_back(self) -> None:
        self._pending = []

    # -- deletions
    def invalidate(self) -> None:
        """Calls were deleted: the next question scans again."""
        with self._lock:
            self._kept = None
            self._generation += 1


def add_up(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts summed per key: the sorted distinct keys and each one's total (how summaries
    merge a commit's part, or several days or projects, into one)."""
    unique, where = np.unique(keys, return_inverse=True)
    return unique, np.bincount(where, weights=counts, minlength=len(unique)).astype(np.int64)
