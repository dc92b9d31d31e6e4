"""Accept gzip/deflate request bodies on every JSON endpoint (the SDKs compress what they send).

The ingest routes decode their own bodies (with limits and OTLP-style errors), so they are left
alone; every other route gets the body decompressed here, capped, before FastAPI parses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from promptpulse.errors import PromptPulseError
from promptpulse.ingest.pipeline import decode_body
from promptpulse.web.problems import problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SELF_DECODING = ("/v1/events", "/v1/scores", "/v1/traces")


class GzipRequestBody:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in SELF_DECODING:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        encoding = headers.get(b"content-encoding", b"").decode().strip().lower()
        if encoding in ("", "identity"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if size > self.limit or not message.get("more_body"):
                break
        try:
            body = decode_body(b"".join(chunks), encoding, self.limit)
        except PromptPulseError as exc:
            response = problem(exc.status, exc.title, exc.detail, exc.errors)
            return await response(scope, receive, send)
        kept = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
        ]
        scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)
