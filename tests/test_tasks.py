"""DaemonTask: stopping waits for a round's worker thread, and tells a long round to end."""

from __future__ import annotations

import asyncio
import threading

from promptpulse.tasks import DaemonTask


def test_stop_tells_a_long_round_to_end_and_waits_for_it() -> None:
    stopping = threading.Event()
    started = threading.Event()
    finished: list[str] = []

    def long_round() -> None:  # a worker-thread round that only a flag can end
        started.set()
        stopping.wait(timeout=60)
        finished.append("stopped" if stopping.is_set() else "timed out")

    async def once() -> None:
        await asyncio.to_thread(long_round)

    async def scenario() -> None:
        task = DaemonTask("long", 3600, once, on_stop=stopping.set)
        task.start()
        await asyncio.to_thread(started.wait, 10)
        await task.stop()

    asyncio.run(scenario())
    assert finished == ["stopped"]  # the round ended by the flag, before stop returned
