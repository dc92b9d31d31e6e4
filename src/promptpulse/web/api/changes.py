"""GET /v1/changes: long-poll until new data is committed; GET /v1/changes/stream: the same
as Server-Sent Events carrying what each commit changed (for Live views)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from promptpulse.errors import Overloaded
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require
from promptpulse.web.context import context
from promptpulse.web.live_stream import stream
from promptpulse.web.problems import documented

router = APIRouter(prefix="/v1", tags=["metrics"], responses=documented(401, 403, 422))

SSE_SCHEMA = {
    "type": "string",
    "description": "Server-Sent Events: `event: <name>` and `data: <JSON>` lines (docs/api.md)",
}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: do not buffer


@router.get(
    "/changes",
    summary="Wait until data newer than `after` is committed",
    description="Returns `{sequence}` at once when the commit sequence is past `after`, else "
    "when the next commit lands, else after `wait` seconds. Live views call it in a loop and "
    "re-query only when the sequence moved.",
)
async def changes(
    request: Request,
    after: int = Query(-1, ge=-1, description="The last sequence seen (-1: answer at once)"),
    # Under the server's 10 s graceful-shutdown window, so a waiting poll never holds a restart.
    wait: float = Query(8.0, ge=0, le=9, description="Longest wait, seconds (at most 9)"),
    _: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, int]:
    feed = context(request).changes
    return {"sequence": await feed.wait_after(after, wait)}


@router.get(
    "/changes/stream",
    summary="What each commit changed, as Server-Sent Events",
    description="A `text/event-stream`: `hello {sequence}` first; then per commit and project "
    "a `delta` (counts, sums, per-minute figures and the newest calls); `changed {sequence}` "
    "for a commit without a delta (scores, another replica's calls): re-query; `resync` when "
    "this client fell behind and its deltas were dropped: re-query; `bye {sequence}` before "
    "the server ends the stream (after about 8 s): reconnect with "
    "`after=<sequence>`. Comments (`: keep-alive`) keep proxies from closing a quiet stream.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_SCHEMA}}}, **documented(429)},
)
async def changes_stream(
    request: Request,
    project: list[str] | None = Query(None, description="Only these projects' deltas"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> StreamingResponse:
    feed = context(request).changes
    live = feed.subscribers
    if live.full:
        raise Overloaded(
            f"{live.most} Live streams are open on this server; retry later", retry_after_s=5
        )
    projects = frozenset(project) if project else None
    if key.project is not None:  # require() refused naming another project
        projects = frozenset([key.project])

    async def events() -> AsyncIterator[bytes]:
        with live.subscribed(projects) as subscriber:
            sequence = lambda: feed.sequence  # noqa: E731 (read afresh at hello and bye)
            async for data in stream(subscriber, sequence, live.lifetime_s, live.keepalive_s):
                yield data

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
