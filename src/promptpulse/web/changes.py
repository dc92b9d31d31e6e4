"""A commit counter that requests can wait on: Live dashboards refresh the moment data lands
instead of polling heavy queries on a timer."""

from __future__ import annotations

import asyncio
import contextlib


class ChangeFeed:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.sequence = 0
        self._changed = asyncio.Event()

    def notify_threadsafe(self, *_: object) -> None:
        """Called from the writer thread after a commit."""
        self._loop.call_soon_threadsafe(self._bump)

    def _bump(self) -> None:
        self.sequence += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_after(self, seen: int, timeout_s: float) -> int:
        """The sequence once it is past `seen`, or the current one after `timeout_s`."""
        if self.sequence > seen:
            return self.sequence
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.sequence
