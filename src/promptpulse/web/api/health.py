"""Liveness, readiness and the server's own Prometheus metrics."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from promptpulse.errors import StoreUnavailable, WriteFailed
from promptpulse.web.context import context
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.data import Health, Ready

router = APIRouter(tags=["health"])
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", summary="The process is up", **answer(Health))
async def healthz() -> Any:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The store answers a query", responses=documented(503), **answer(Ready)
)
async def readyz(request: Request) -> Any:
    ctx = context(request)
    try:
        await run_in_threadpool(ctx.store.ping)
    except Exception as exc:
        raise StoreUnavailable(f"store not reachable: {exc}") from exc
    failure = ctx.writer.failure
    if failure is not None and not _space_is_back(ctx.settings.data_dir, failure[0]):
        raise WriteFailed(f"the store cannot write: {failure[1]}")
    leader = await run_in_threadpool(ctx.lease.leader)
    return {
        "status": "ready",
        "writer_queue_events": ctx.writer.pending_events,
        "replica": ctx.lease.holder,
        "leader": leader.holder if leader else None,
    }


FREE_BYTES_TO_RETRY = 64 * 1024 * 1024


def _space_is_back(data_dir: Path, failed_at: float) -> bool:
    """After a failed commit, ready again once the data directory has room (the next write then
    tells): a server recovers by itself when space is freed, without a restart."""
    if time.monotonic() - failed_at < 2:
        return False
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:
        return False
    return usage.free >= min(FREE_BYTES_TO_RETRY, usage.total // 4)


@router.get(
    "/metrics",
    summary="Prometheus metrics of the server itself",
    response_class=PlainTextResponse,
    responses={200: {"content": {PROMETHEUS: {"schema": {"type": "string"}}}}},
)
async def prometheus(request: Request) -> Response:
    return Response(context(request).metrics.render(), media_type=PROMETHEUS)
