"""GET /v1/changes: long-poll until new data is committed (for Live views)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require
from promptpulse.web.context import context
from promptpulse.web.problems import documented

router = APIRouter(prefix="/v1", tags=["metrics"], responses=documented(401, 403, 422))


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
