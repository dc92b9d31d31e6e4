"""Parsing `/v1/events` bodies in worker processes, so that it stops holding the server's GIL.

Reading and validating a call costs 5–20 µs of Python, by machine; in threads it held two
thirds of the server's GIL, which the event loop and the writer need too, so the server used
one core of its machine (docs/performance.md). Each worker (`parse_worker.py`) parses one body
at a time and sends back the prepared Arrow table, and the server only copies bytes.

The workers are plain child processes on pipes (not `multiprocessing`, which would re-import
the server's main module, the whole app, in each): started with the server (a replica that
never ingests may set PROMPTPULSE_PARSE_WORKERS=0); replaced after one dies (that body is
answered 503 with Retry-After, nothing stored, so the client's retry is safe); stopped with the
server, and gone with it if it dies (a worker exits when its stdin closes).
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from promptpulse.errors import ParserUnavailable
from promptpulse.ingest.parse_worker import WorkerGone, read_frame, write_frame
from promptpulse.ingest.pipeline import Prepared
from promptpulse.ingest.pricing import OverrideLookup

log = logging.getLogger("promptpulse.ingest")

# Far more than a 10,000-event body takes on a slow machine (~1 s): a worker silent this long
# is stuck, and is killed. A new worker has longer for its first answer: it imports first.
ANSWER_TIMEOUT_S = 60.0
START_ALLOWANCE_S = 60.0
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])  # where `promptpulse` is imported from


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promptpulse.ingest.parse_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.answered = False

    def call(self, request: bytes, timeout_s: float) -> tuple[object, ...]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if not self.answered:
            timeout_s += START_ALLOWANCE_S
        try:
            write_frame(self.process.stdin.fileno(), request)
        except OSError as exc:  # BrokenPipeError: it died between two bodies
            raise WorkerGone(f"its pipe is closed ({exc})") from exc
        answer: tuple[object, ...] = pickle.loads(
            read_frame(self.process.stdout.fileno(), timeout_s)
        )
        self.answered = True
        return answer

    def stop(self, wait_s: float) -> None:
        """Close its stdin (it exits), and kill it if it has not within `wait_s`."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        try:
            self.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ParsePool:
    """`size` workers, each parsing one body at a time. `prepare_events` blocks: call it from
    a thread (the web layer's parse slots bound how many wait)."""

    def __init__(self, size: int, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.size = size
        self._timeout = answer_timeout_s
        # a worker not started (or replaced) yet is None: started when a body needs it
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(size):
            self._idle.put(None)
        self._started: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def prepare_events(
        self,
        body: bytes,
        *,
        key_project: str | None,
        overrides: OverrideLookup,
        now: datetime,
        max_events: int,
    ) -> Prepared:
        """What `pipeline.prepare_events` answers, from a worker. `overrides` must pickle (a
        `PriceTable`'s lookup does). ParserUnavailable (503) when the worker died or hung."""
        kwargs = {"key_project": key_project, "overrides": overrides, "now": now,
                  "max_events": max_events}  # fmt: skip
        request = pickle.dumps((body, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        worker = self._idle.get()
        try:
            if worker is None:
                worker = self._start()
            answer = worker.call(request, self._timeout)
        except WorkerGone as exc:
            log.error("a parse worker stopped answering (%s); starting another", exc)
            self._discard(worker)
            worker = None
            raise ParserUnavailable(
                "the batch could not be parsed: retry", retry_after_s=1
            ) from exc
        except BaseException:
            # Any other failure mid-exchange leaves the pipes in an unknown state (an answer
            # unread would be taken for the next body's): this worker is never used again.
            self._discard(worker)
            worker = None
            raise
        finally:
            self._idle.put(worker)
        return _result(answer)

    def start(self) -> None:
        """Start every worker now (at server start-up), so that the first batches do not wait
        ~1 s for them to import. A worker that dies is replaced when a batch needs it."""
        for _ in range(self.size):
            worker = self._idle.get()
            try:
                if worker is None:
                    worker = self._start()
            finally:
                self._idle.put(worker)  # even if it could not start: a later batch tries again

    def close(self, wait_s: float = 5.0) -> None:
        """Stop every worker (at server shutdown, after the last request)."""
        with self._lock:
            self._closed = True
            workers, self._started = self._started, []
        for worker in workers:
            worker.stop(wait_s)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._started]

    def _start(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise ParserUnavailable("the server is stopping", retry_after_s=1)
            worker = _Worker()
            self._started.append(worker)
            return worker

    def _discard(self, worker: _Worker | None) -> None:
        """Kill a worker that failed an exchange; its slot starts a new one when needed."""
        if worker is not None:
            worker.stop(wait_s=0)
            with self._lock:
                if worker in self._started:
                    self._started.remove(worker)


def _result(answer: tuple[object, ...]) -> Prepared:
    match answer:
        case ("ok", Prepared() as prepared):
            return prepared
        case ("refused", type() as error, str(detail), list(errors)):
            raise error(detail, errors)
        case ("failed", str(trace)):
            raise RuntimeError(f"a parse worker failed:\n{trace}")
    raise RuntimeError(f"a parse worker answered something unexpected: {answer[:1]!r}")
