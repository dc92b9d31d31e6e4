"""The one shape of every background loop: start/stop/run_once, logs and survives its errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("promptpulse.tasks")
STOP_WAIT_S = 30.0  # how long stopping waits for a round in progress


class DaemonTask:
    def __init__(
        self,
        name: str,
        interval_s: float,
        run_once: Callable[[], Awaitable[None]],
        on_stop: Callable[[], None] | None = None,
    ):
        self.name = name
        self.interval_s = interval_s
        self.run_once = run_once
        # Tells a long round in a worker thread to end at its next safe point (cancelling
        # cannot reach into the thread).
        self.on_stop = on_stop
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Future[None] | None = None  # the round running now, if any

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Cancelling does not stop a round's worker thread (asyncio.to_thread): wait for it, so
        # that it never reads the store or the metadata database after the app closed them
        # (a connection opened then would never be closed).
        if self._round is not None and not self._round.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._round), STOP_WAIT_S)

    async def _loop(self) -> None:
        while True:
            try:
                self._round = asyncio.ensure_future(self.run_once())
                await asyncio.shield(self._round)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed; it will run again", self.name)
            await asyncio.sleep(self.interval_s)
