"""The single writer: one thread, one transaction per group of requests, dedupe by (project, id).

Requests hand their prepared batch to `submit` and await the result; the writer drains whatever
is queued (up to `group_events`), writes it in one transaction, commits, then answers every request
in the group. A 2xx is sent only after the commit, so an acknowledged event survives a crash.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.errors import Overloaded, StoreUnavailable, WriteFailed
from promptpulse.ingest.dedupe import SeenKeys
from promptpulse.store import Store, StoreWriter

log = logging.getLogger("promptpulse.writer")


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int


@dataclass
class _Job:
    kind: str  # "events" | "scores"
    table: pa.Table
    done: Callable[[WriteResult | BaseException], None]
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class WriterStats:
    """Read by the /metrics endpoint."""

    events_written: int = 0
    duplicates: int = 0
    commits: int = 0
    last_commit_s: float = 0.0


_STOP = object()


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        queue_events: int = 200_000,
        group_events: int = 50_000,
        queue_seconds: float = 0.0,
        on_commit: Callable[[float, int], None] | None = None,
    ) -> None:
        self._store = store
        self._limit = queue_events
        self._limit_s = queue_seconds  # 0: bounded in events only
        self._rate = 0.0  # events committed per second of commit work (moving average)
        self._group = group_events
        self._queue: queue.Queue[_Job | object] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seen = SeenKeys()
        self._listeners: list[Callable[[float, int], None]] = [on_commit] if on_commit else []
        self._call_listeners: list[Callable[[pa.Table], None]] = []
        self._stored: list[pa.Table] = []  # the calls the group being committed newly stores
        self.stats = WriterStats()
        # (monotonic time, error) of the last failed commit; None once a commit succeeds
        self.failure: tuple[float, str] | None = None

    def add_listener(self, listener: Callable[[float, int], None]) -> None:
        """Called in the writer thread after each commit with (seconds, rows)."""
        self._listeners.append(listener)

    def add_call_listener(self, listener: Callable[[pa.Table], None]) -> None:
        """Called in the writer thread after each commit with the calls it newly stored
        (duplicates left out), before the requests that sent them are answered."""
        self._call_listeners.append(listener)

    @property
    def pending_events(self) -> int:
        return self._pending

    def backlog_seconds(self, events: int | None = None) -> float:
        """How long the writer needs for `events` (default: what is queued), at its recent
        rate; 0 until it has committed twice."""
        queued = self._pending if events is None else events
        return queued / self._rate if self._rate > 0 else 0.0

    def start(self) -> None:
        self._seen = SeenKeys(self._store.all_key_hashes())
        self._thread = threading.Thread(target=self._run, name="promptpulse-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    async def write(self, kind: str, table: pa.Table) -> WriteResult:
        """Queue a batch and wait until it is committed; Overloaded when the queue is full."""
        if table.num_rows == 0:
            return WriteResult(0, 0)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()

        def done(result: WriteResult | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        self._enqueue(_Job(kind, table, done))
        return await future

    def write_sync(self, kind: str, table: pa.Table) -> WriteResult:
        """The same for callers without an event loop (demo seeding, CLI, tests)."""
        box: list[WriteResult | BaseException] = []
        ready = threading.Event()

        def done(result: WriteResult | BaseException) -> None:
            box.append(result)
            ready.set()

        if table.num_rows == 0:
            return WriteResult(0, 0)
        self._enqueue(_Job(kind, table, done), block=True)
        ready.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _enqueue(self, job: _Job, block: bool = False) -> None:
        if self._thread is None:
            raise StoreUnavailable("the writer is not running")
        rows = job.table.num_rows
        while True:
            with self._pending_lock:
                backlog_s = self.backlog_seconds(self._pending + rows)
                fits = self._pending + rows <= self._limit and not (
                    self._limit_s and backlog_s > self._limit_s
                )
                if self._pending == 0 or fits:
                    self._pending += rows
                    break
            if not block:
                # Come back once the queue has drained to within its bound.
                wait = max(1, math.ceil(backlog_s - self._limit_s)) if self._limit_s else 1
                raise Overloaded(
                    f"the writer is behind (about {backlog_s:.0f} s of work queued); retry later",
                    retry_after_s=min(wait, 30),
                )
            time.sleep(0.01)
        self._queue.put(job)

    def _run(self) -> None:
        writer = self._store.writer()
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, _Job)
            jobs = [first]
            rows = first.table.num_rows
            stop = False
            while rows < self._group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                assert isinstance(more, _Job)
                jobs.append(more)
                rows += more.table.num_rows
            self._commit_group(writer, jobs)
            if stop:
                return

    def _commit_group(self, writer: StoreWriter, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        results: list[WriteResult | BaseException]
        new_hashes = np.empty(0, dtype=np.uint64)
        try:
            writer.begin()
            results, new_hashes = self._write_jobs(writer, jobs)
            writer.commit()
        except Exception as exc:  # the whole group fails together; nothing is half-written
            log.exception("write failed; %d requests get 503", len(jobs))
            self._stored = []  # rolled back: nothing was stored
            try:
                writer.rollback()
            except Exception:
                log.exception("rollback failed")
            failure = WriteFailed(f"the store could not write: {exc}")
            self.failure = (time.monotonic(), str(exc))
            results = [failure] * len(jobs)
        else:
            self._seen.add(new_hashes)
            self.failure = None
            self._tell_call_listeners()
        elapsed = time.perf_counter() - started
        rows = sum(j.table.num_rows for j in jobs)
        with self._pending_lock:
            self._pending -= rows
            # The first commit of a process is no measure (cold caches, each table's first
            # write: a fresh server's took ~1 s for 1,000 calls): learnt from it, the rate
            # turned 15 of 16 clients away with 429s for seconds after every start.
            if rows and elapsed > 0 and self.stats.commits > 0:
                rate = rows / elapsed
                self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
        self.stats.commits += 1
        self.stats.last_commit_s = elapsed
        for listener in self._listeners:
            try:
                listener(elapsed, rows)
            except Exception:  # a listener must never stop the writer
                log.exception("commit listener failed")
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, WriteResult):
                self.stats.events_written += result.accepted if job.kind == "events" else 0
                self.stats.duplicates += result.duplicates
            job.done(result)

    def _write_jobs(
        self, writer: StoreWriter, jobs: list[_Job]
    ) -> tuple[list[WriteResult | BaseException], np.ndarray]:
        results: list[WriteResult | BaseException] = [WriteResult(0, 0)] * len(jobs)
        event_jobs = [i for i, j in enumerate(jobs) if j.kind == "events"]
        hashes = np.empty(0, dtype=np.uint64)
        if event_jobs:
            table = pa.concat_tables([jobs[i].table for i in event_jobs])
            keep, hashes = self._new_rows(writer, table)
            elsewhere = writer.insert_events(table.filter(pa.array(keep)))
            if elsewhere:  # stored by another replica: duplicates, as the index would say
                keys = zip(table.column("project").to_pylist(), table.column("id").to_pylist(),
                           strict=True)  # fmt: skip
                keep &= np.array([k not in elsewhere for k in keys], dtype=bool)
            offset = 0
            for i in event_jobs:
                n = jobs[i].table.num_rows
                accepted = int(keep[offset : offset + n].sum())
                results[i] = WriteResult(accepted, n - accepted)
                offset += n
            hashes = hashes[keep]
            if self._call_listeners:
                self._stored.append(table.filter(pa.array(keep)))
        for i, job in enumerate(jobs):
            if job.kind == "scores":
                deduped = _first_of_each_key(job.table)
                accepted = writer.insert_scores(deduped)
                results[i] = WriteResult(accepted, job.table.num_rows - accepted)
        return results, hashes

    def _tell_call_listeners(self) -> None:
        stored, self._stored = self._stored, []
        for table in stored:
            for listener in self._call_listeners:
                try:
                    listener(table)
                except Exception:  # a listener must never stop the writer
                    log.exception("call listener failed")

    def _new_rows(self, writer: StoreWriter, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Mask of rows to store: not already stored, and the first of their key in this group."""
        hashes = writer.key_hashes(table)
        keep = np.ones(len(hashes), dtype=bool)
        # Repeats inside the group: same hash twice; confirm on the real key.
        _, counts = np.unique(hashes, return_counts=True)
        if (counts > 1).any():
            projects = table.column("project").to_pylist()
            ids = table.column("id").to_pylist()
            seen: set[tuple[str, str]] = set()
            for i in range(len(hashes)):
                key = (projects[i], ids[i])
                if key in seen:
                    keep[i] = False
                seen.add(key)
        candidates = np.flatnonzero(self._seen.maybe_seen(hashes) & keep)
        if len(candidates):
            projects = pc.take(table.column("project"), pa.array(candidates)).to_pylist()
            ids = pc.take(table.column("id"), pa.array(candidates)).to_pylist()
            stored = writer.existing_keys(list(zip(projects, ids, strict=True)))
            for row, key in zip(candidates, zip(projects, ids, strict=True), strict=True):
                if key in stored:
                    keep[row] = False
        return keep, hashes


def _first_of_each_key(table: pa.Table) -> pa.Table:
    seen: set[tuple[str, str]] = set()
    keep = []
    for project, ident in zip(
        table.column("project").to_pylist(), table.column("id").to_pylist(), strict=True
    ):
        key = (project, ident)
        keep.append(key not in seen)
        seen.add(key)
    return table.filter(pa.array(keep, type=pa.bool_()))


def _settle(future: asyncio.Future[WriteResult], result: WriteResult | BaseException) -> None:
    if future.cancelled():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
