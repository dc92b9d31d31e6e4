"""A deadline per request, for every query it makes (issue 17, item 10).

The web layer opens one (`active(Deadline(seconds))`) around a request; every backend reads
`current()` when it starts a statement: it runs for at most the time left, a statement started
after the deadline fails at once, and `cancel()` (the client went away) interrupts whatever
runs. A context variable carries it, so no method of the `Store` protocol changes; work a
backend hands to its own threads must copy the context (`in_context`)."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from promptpulse.errors import StoreUnavailable

RETRY_INTERRUPT_S = (0.05, 0.25, 1.0, 5.0)


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.at = clock() + seconds
        self.seconds = seconds
        self.reason: str | None = None  # set by cancel()
        self._interrupts: set[Callable[[], None]] = set()
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - self.clock()

    def check(self) -> float:
        """The seconds left; StoreUnavailable when none are (or the request was cancelled)."""
        if self.reason is not None:
            raise StoreUnavailable(f"query cancelled: {self.reason}")
        left = self.remaining()
        if left <= 0:
            raise StoreUnavailable(f"the request took longer than {self.seconds:g} s")
        return left

    def cancel(self, reason: str) -> None:
        with self._lock:
            self.reason = reason
        self._interrupt_watched()
        # A statement watched but not started yet misses an interrupt (DuckDB drops one that
        # comes before `execute`): interrupt what is still watched a few more times.
        for delay in RETRY_INTERRUPT_S:
            timer = threading.Timer(delay, self._interrupt_watched)
            timer.daemon = True
            timer.start()

    def _interrupt_watched(self) -> None:
        with self._lock:
            interrupts = list(self._interrupts)
        for interrupt in interrupts:
            interrupt()

    @contextmanager
    def watching(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """While inside, `cancel()` calls `interrupt` (e.g. a DuckDB cursor's)."""
        with self._lock:
            self._interrupts.add(interrupt)
        try:
            if self.reason is not None:
                interrupt()
            yield
        finally:
            with self._lock:
                self._interrupts.discard(interrupt)

    @property
    def watched(self) -> int:
        return len(self._interrupts)


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "promptpulse_deadline", default=None
)


def current() -> Deadline | None:
    return _CURRENT.get()


@contextmanager
def active(deadline: Deadline) -> Iterator[Deadline]:
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def in_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` bound to the caller's context (its deadline), for a thread pool of a backend."""
    ctx = contextvars.copy_context()
    return lambda *args: ctx.run(fn, *args)
