"""A commit counter that requests can wait on: Live dashboards refresh the moment data lands
instead of polling heavy queries on a timer.

Alone (SQLite metadata), the counter counts this process's commits. Among replicas sharing
PostgreSQL, a `ChangeBus` (promptpulse.meta.changes) numbers every replica's commits from one
sequence and the counter follows the highest number heard, so it means the same everywhere."""

from __future__ import annotations

import asyncio
import contextlib

from promptpulse.meta.changes import ChangeBus


class ChangeFeed:
    def __init__(self, loop: asyncio.AbstractEventLoop, bus: ChangeBus | None = None) -> None:
        self._loop = loop
        self.sequence = 0
        self._changed = asyncio.Event()
        self.bus = bus

    def start(self) -> None:
        if self.bus is not None:
            self.sequence = self.bus.start()

    def stop(self) -> None:
        if self.bus is not None:
            self.bus.stop()

    def notify_threadsafe(self, *_: object) -> None:
        """Called from the writer thread after a commit."""
        if self.bus is not None:
            self.bus.committed()  # numbered and announced to every replica, this one included
        else:
            self._loop.call_soon_threadsafe(self._bump)

    def advance_threadsafe(self, sequence: int) -> None:
        """Called from the bus's thread with a sequence some replica reached."""
        self._loop.call_soon_threadsafe(self._advance, sequence)

    def _bump(self) -> None:
        self._advance(self.sequence + 1)

    def _advance(self, sequence: int) -> None:
        if sequence <= self.sequence:  # notifications may arrive out of order
            return
        self.sequence = sequence
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_after(self, seen: int, timeout_s: float) -> int:
        """The sequence once it is past `seen`, or the current one after `timeout_s`."""
        if self.sequence > seen:
            return self.sequence
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.sequence
