"""POST /v1/events and /v1/scores: decode, validate, hand to the writer, answer after commit."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from promptpulse.errors import FieldError, TooLarge, UnsupportedMediaType
from promptpulse.ingest.pipeline import Prepared, decode_body, prepare_events, prepare_scores
from promptpulse.ingest.schema import EventBatch, ScoreBatch
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require
from promptpulse.web.context import AppContext, context, off_loop
from promptpulse.web.openapi import json_body
from promptpulse.web.problems import ANSWERS, documented, problem
from promptpulse.web.schemas.data import IngestProblem, IngestResult

router = APIRouter(tags=["ingest"], responses=documented(400, 401, 403, 413, 415, 429, 503))
ANSWERED: dict[int | str, dict[str, Any]] = {
    200: {"description": "All valid: `{accepted, duplicates, rejected: []}`"},
    207: {
        "model": IngestResult,
        "description": "Some items rejected (each with index, id, errors); the rest stored",
    },
    422: {"model": IngestProblem, "description": f"Every item was rejected. {ANSWERS[422]}"},
}

_EXAMPLE = {
    "events": [
        {
            "id": "call-123",
            "timestamp": "2026-01-31T12:00:00Z",
            "prompt_id": "support-answer",
            "prompt_version": "v3",
            "model": "gpt-4o-mini",
            "latency_ms": 812.5,
            "ttft_ms": 230.0,
            "input_tokens": 1200,
            "output_tokens": 180,
            "status": "success",
        }
    ]
}


async def read_body(request: Request, ctx: AppContext) -> bytes:
    """The decompressed body, refusing anything over the limit before reading it all."""
    limit = ctx.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is larger than {limit} bytes")
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"unsupported Content-Type '{content_type}'",
            [FieldError("Content-Type", "send application/json")],
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    return await off_loop(
        ctx, len(body), decode_body, body, request.headers.get("content-encoding"), limit
    )


async def _store(request: Request, ctx: AppContext, kind: str, prepared: Prepared) -> Response:
    result = await ctx.writer.write(kind, prepared.table)
    ctx.metrics.ingested.labels(kind, "accepted").inc(result.accepted)
    ctx.metrics.ingested.labels(kind, "duplicate").inc(result.duplicates)
    ctx.metrics.ingested.labels(kind, "rejected").inc(len(prepared.rejected))
    body: dict[str, Any] = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [r.as_dict() for r in prepared.rejected],
    }
    if prepared.rejected and prepared.count == 0:
        return problem(
            422,
            "Invalid request",
            f"all {len(prepared.rejected)} items were rejected",
            **body,
        )
    status = 207 if prepared.rejected else 200
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _prepare_events(ctx: AppContext, body: bytes, **kwargs: Any) -> Prepared:
    """In a parse worker process if the server has them, else here (in a thread). The prices
    are read once a batch (a worker is handed them)."""
    prepare = ctx.parse_pool.prepare_events if ctx.parse_pool else prepare_events
    return prepare(body, overrides=ctx.prices.current().lookup, **kwargs)


@router.post(
    "/v1/events",
    summary="Ingest a batch of LLM calls",
    openapi_extra=json_body(EventBatch, _EXAMPLE),
    response_model=IngestResult,
    responses={**ANSWERED, 413: {"description": "More than 10,000 events or 10 MiB"}},
)
async def post_events(request: Request, key: ApiKey = Depends(require(Scope.INGEST))) -> Response:
    ctx = context(request)
    body = await read_body(request, ctx)
    prepared = await off_loop(
        ctx,
        len(body),
        _prepare_events,
        ctx,
        body,
        key_project=key.project,
        now=ctx.clock(),
        max_events=ctx.settings.max_batch_events,
    )
    return await _store(request, ctx, "events", prepared)


@router.post(
    "/v1/scores",
    summary="Ingest feedback and evaluation scores",
    openapi_extra=json_body(ScoreBatch),
    response_model=IngestResult,
    responses=ANSWERED,
)
async def post_scores(request: Request, key: ApiKey = Depends(require(Scope.INGEST))) -> Response:
    ctx = context(request)
    body = await read_body(request, ctx)
    prepared = await off_loop(
        ctx,
        len(body),
        prepare_scores,
        body,
        key_project=key.project,
        now=ctx.clock(),
        max_items=ctx.settings.max_batch_events,
    )
    return await _store(request, ctx, "scores", prepared)
