"""A commit counter that requests can wait on: Live dashboards refresh the moment data lands
instead of polling heavy queries on a timer.

Alone (SQLite metadata), the counter counts this process's commits. Among replicas sharing
PostgreSQL, a `ChangeBus` (promptpulse.meta.changes) numbers every replica's commits from one
sequence and the counter follows the highest number heard, so it means the same everywhere.

Live streams (issue 12) ride on it: after a commit, the calls it stored become a small delta per
project (web/live_delta.py, computed on the writer thread only while a stream is open) that
every subscribed tab receives at once (web/live_stream.py). A commit heard from another replica
carries no delta (PostgreSQL NOTIFY has 8 kB), so it is announced as "changed" and those pages
re-query."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pyarrow as pa

from promptpulse.meta.changes import ChangeBus
from promptpulse.web.gzip_body import ASGIApp, Message, Receive, Scope, Send
from promptpulse.web.live_delta import encode, project_deltas
from promptpulse.web.live_stream import Subscribers

log = logging.getLogger("promptpulse.changes")

SEQUENCE_HEADER = b"x-promptpulse-sequence"


class ChangeFeed:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, bus: ChangeBus | None = None, queue_events: int = 64
    ) -> None:
        self._loop = loop
        self.sequence = 0
        self._changed = asyncio.Event()
        self.bus = bus
        self.subscribers = Subscribers(queue_events)
        self._deltas: list[tuple[str, dict[str, object]]] = []  # the writer thread's own

    def start(self) -> None:
        if self.bus is not None:
            self.sequence = self.bus.start()

    def stop(self) -> None:
        if self.bus is not None:
            self.bus.stop()

    def on_calls(self, calls: pa.Table) -> None:
        """A writer call listener: the calls a commit newly stored (on the writer thread).
        Their delta waits for `notify_threadsafe`, which follows once the group is done."""
        if self.subscribers.count:  # nobody watching: no work on the writer's thread
            self._deltas.extend(project_deltas(calls).items())

    def notify_threadsafe(self, *_: object) -> None:
        """Called from the writer thread after a commit."""
        deltas, self._deltas = self._deltas, []
        if self.bus is not None:
            self.bus.committed()  # numbered and announced to every replica, this one included
            if deltas:  # this replica's tabs need not wait for the round trip
                self._loop.call_soon_threadsafe(self._send, self.sequence, deltas)
        else:
            self._loop.call_soon_threadsafe(self._bump, deltas)

    def advance_threadsafe(self, sequence: int) -> None:
        """Called from the bus's thread with a sequence some replica reached."""
        self._loop.call_soon_threadsafe(self._advance, sequence)

    def _bump(self, deltas: list[tuple[str, dict[str, object]]]) -> None:
        self._advance(self.sequence + 1, announce=not deltas)
        self._send(self.sequence, deltas)

    def _send(self, sequence: int, deltas: list[tuple[str, dict[str, object]]]) -> None:
        if not deltas:
            return
        try:
            events = [(project, encode(sequence, delta)) for project, delta in deltas]
        except Exception:  # Live is a view: a delta it cannot send becomes a re-query
            log.exception("could not encode a Live delta")
            self.subscribers.broadcast("changed", sequence)
            return
        self.subscribers.deltas(sequence, events)

    def _advance(self, sequence: int, announce: bool = True) -> None:
        if sequence <= self.sequence:  # notifications may arrive out of order
            return
        self.sequence = sequence
        self._changed.set()
        self._changed = asyncio.Event()
        if announce:  # a commit with no delta here: scores, or another replica's calls
            self.subscribers.broadcast("changed", sequence)

    def as_of(self) -> int | None:
        """The number an answer sent now holds commits up to (AsOfHeader); None among replicas,
        where a commit is numbered later, in PostgreSQL."""
        return self.sequence if self.bus is None else None

    async def wait_after(self, seen: int, timeout_s: float) -> int:
        """The sequence once it is past `seen`, or the current one after `timeout_s`."""
        if self.sequence > seen:
            return self.sequence
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.sequence


class AsOfHeader:
    """Every API read says which commits its answer holds: `X-PromptPulse-Sequence`, the change
    feed's number when the response starts. A commit is numbered just after it lands, so a
    commit numbered above it landed after the answer's statements ran: a Live tab folds in only
    those deltas (a delta whose commit the answer already counts would count twice). A commit
    landing while the statements ran may be numbered within it and not held: the tab shows it
    a debounced refresh later (a delta always asks for one). Only a commit that lands just
    before a fast statement and is numbered after the response started (the writer numbers it
    once its listeners ran: milliseconds) still counts twice until that refresh. Alone only: among
    replicas commits are numbered later, in PostgreSQL, and the header is left out (a tab then
    folds in every delta, and the refresh sets the figures right)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope.get("path", "").startswith("/v1/")
        ):
            return await self.app(scope, receive, send)
        ctx = getattr(scope["app"].state, "ctx", None)  # set once the lifespan started
        if ctx is None:
            return await self.app(scope, receive, send)
        feed: ChangeFeed = ctx.changes

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start" and (sequence := feed.as_of()) is not None:
                value = str(sequence).encode()
                message["headers"] = [*message.get("headers", []), (SEQUENCE_HEADER, value)]
            await send(message)

        await self.app(scope, receive, stamped)
