"""The one shape of every background loop: start/stop/run_once, logs and survives its errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("promptpulse.tasks")


class DaemonTask:
    def __init__(self, name: str, interval_s: float, run_once: Callable[[], Awaitable[None]]):
        self.name = name
        self.interval_s = interval_s
        self.run_once = run_once
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed; it will run again", self.name)
            await asyncio.sleep(self.interval_s)
