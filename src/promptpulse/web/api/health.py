"""Liveness, readiness and the server's own Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from promptpulse.errors import StoreUnavailable
from promptpulse.web.context import context

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store answers a query")
async def readyz(request: Request) -> dict[str, object]:
    ctx = context(request)
    try:
        await run_in_threadpool(ctx.store.ping)
    except Exception as exc:
        raise StoreUnavailable(f"store not reachable: {exc}") from exc
    return {"status": "ready", "writer_queue_events": ctx.writer.pending_events}


@router.get("/metrics", summary="Prometheus metrics of the server itself")
async def prometheus(request: Request) -> Response:
    return Response(
        context(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
