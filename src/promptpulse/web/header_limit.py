"""Refuse requests whose headers are too large (431) before anything reads them.

The server's HTTP protocol counts the same limit (slow_clients.py), so that an oversized header
block is dropped while it is being received; this guard holds for any other ASGI server (and
for in-process tests), so that no route, auth check or cache ever sees a 10 MB header."""

from __future__ import annotations

from starlette.responses import Response

from promptpulse.web.gzip_body import ASGIApp, Receive, Scope, Send
from promptpulse.web.problems import problem


def too_large(limit: int, size: int | None = None) -> Response:
    """The 431 problem, here and in the server's protocol (which may not know the size yet)."""
    held = f"hold {size} bytes" if size is not None else "are larger"
    return problem(
        431,
        "Request header fields too large",
        f"the request's headers {held}; at most {limit} are read",
    )


class HeaderLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.limit:
                return await too_large(self.limit, size)(scope, receive, send)
        return await self.app(scope, receive, send)
