"""The open Live streams of this server and the bounded queue of each (issue 12).

Everything here runs on the event loop, and nothing waits: a commit's events are offered to
every subscriber with `put_nowait`. A subscriber that cannot keep up (a slow network, a tab in
the background, a client that never reads) overflows its own queue: its queued deltas are
dropped and it gets one "resync" event instead (the page then re-queries everything), so
neither the writer thread nor the other tabs ever wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from promptpulse.web.live_delta import event

KEEPALIVE = b": keep-alive\n\n"  # an SSE comment: proxies see bytes, the browser ignores it


class Subscriber:
    def __init__(self, projects: frozenset[str] | None, limit: int) -> None:
        self.projects = projects  # None: every project (an admin key naming none)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(limit)
        self.resyncing = False  # overflowed; deltas are dropped until it has read the resync
        self.overflows = 0

    def wants(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def offer(self, data: bytes, sequence: int) -> None:
        if self.resyncing:
            return
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self._overflow(sequence)

    def _overflow(self, sequence: int) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(event("resync", {"sequence": sequence}))
        self.resyncing = True
        self.overflows += 1

    async def next(self, timeout_s: float) -> bytes:
        """The next event, or a keep-alive comment after `timeout_s` of quiet."""
        try:
            data = await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return KEEPALIVE
        return self._taken(data)

    def take_nowait(self) -> bytes | None:
        try:
            return self._taken(self._queue.get_nowait())
        except asyncio.QueueEmpty:
            return None

    def _taken(self, data: bytes) -> bytes:
        if data.startswith(b"event: resync"):
            self.resyncing = False
        return data


class Subscribers:
    def __init__(
        self, limit: int, lifetime_s: float = 8.0, keepalive_s: float = 5.0, most: int = 1000
    ) -> None:
        self.limit = limit  # events queued per subscriber before it is sent "resync"
        # Streams open at once: each may hold `limit` events, so memory stays bounded however
        # many connections a client opens (beyond it: 429, the tab retries).
        self.most = most
        # Each stream ends after `lifetime_s`, under the server's 10 s graceful-shutdown
        # window, so an open tab never holds a restart; the client reconnects at once.
        self.lifetime_s = lifetime_s
        self.keepalive_s = keepalive_s  # proxies close a connection that stays silent long
        self._open: set[Subscriber] = set()

    @property
    def count(self) -> int:
        return len(self._open)

    @property
    def full(self) -> bool:
        return len(self._open) >= self.most

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(list(self._open))

    @contextlib.contextmanager
    def subscribed(self, projects: frozenset[str] | None) -> Iterator[Subscriber]:
        subscriber = Subscriber(projects, self.limit)
        self._open.add(subscriber)
        try:
            yield subscriber
        finally:
            self._open.discard(subscriber)

    def deltas(self, sequence: int, events: list[tuple[str, bytes]]) -> None:
        """One commit's (project, encoded delta) events to every subscriber of that project."""
        for subscriber in list(self._open):
            for project, data in events:
                if subscriber.wants(project):
                    subscriber.offer(data, sequence)

    def broadcast(self, name: str, sequence: int) -> None:
        """An event for every subscriber ("changed": something committed that carries no delta)."""
        data = event(name, {"sequence": sequence})
        for subscriber in list(self._open):
            subscriber.offer(data, sequence)


async def stream(
    subscriber: Subscriber,
    sequence: Callable[[], int],
    lifetime_s: float,
    keepalive_s: float,
) -> AsyncIterator[bytes]:
    """The Server-Sent Events of one subscriber for `lifetime_s` (under the server's graceful
    shutdown window, so an open tab never holds a restart), then whatever is still queued and
    a "bye" naming the sequence reached: the client reconnects with `after` and, when nothing
    committed in between, goes on without re-querying."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + lifetime_s
    yield b"retry: 1000\n" + event("hello", {"sequence": sequence()})
    while (left := ends - loop.time()) > 0:
        yield await subscriber.next(min(keepalive_s, left))
    while (data := subscriber.take_nowait()) is not None:
        yield data
    yield event("bye", {"sequence": sequence()})
