"""Every read of the API gets one deadline for all of its queries (issue 17, item 10).

Before, `PROMPTPULSE_QUERY_TIMEOUT_S` bounded each SQL statement, so a request of several
statements could run for many times the limit, and its work went on after the client had gone.
Now a GET under /v1/ carries a `store.Deadline` of that many seconds: each statement runs for at
most the time left, and when the client disconnects the running statements are interrupted.
Writes and maintenance (POST, PUT...) keep the per-statement limit; the long poll /v1/changes
and the Live stream /v1/changes/stream wait on purpose and are left alone."""

from __future__ import annotations

import asyncio
import contextlib

from promptpulse.store import Deadline, with_deadline
from promptpulse.web.gzip_body import ASGIApp, Message, Receive, Scope, Send

UNBOUNDED = ("/v1/changes", "/v1/changes/stream")


class RequestDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not path.startswith("/v1/")
            or path in UNBOUNDED
        ):
            return await self.app(scope, receive, send)
        request = Deadline(self.seconds)
        inbox: asyncio.Queue[Message] = asyncio.Queue()

        async def pump() -> None:
            """Read the client's messages as they come: a disconnect cancels the queries."""
            while True:
                message = await receive()
                await inbox.put(message)
                if message["type"] == "http.disconnect":
                    request.cancel("the client went away")
                    return

        watcher = asyncio.create_task(pump())
        try:
            with with_deadline(request):
                await self.app(scope, inbox.get, send)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
