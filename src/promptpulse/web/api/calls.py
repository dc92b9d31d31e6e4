"""GET /v1/calls: the most recent raw calls in a range (newest first), for lists and drill-downs.

Read scope; a project key sees only its project. Filters are the metrics API's, so
`?status=error` lists the recent failing calls with their messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.model import FILTERS
from promptpulse.query.requests import CALLS_PARAMS, parse_calls
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.metrics import CallsPage

router = APIRouter(prefix="/v1", tags=["calls"], responses=documented(401, 403, 422))

# The call record's own fields a list shows; tags stay out to keep pages light. Metadata is
# at most 16 KiB a call and is what a drill-down needs (trace id, operation, the app's keys).
COLUMNS: tuple[str, ...] = (
    "id", "timestamp", "project", "prompt_id", "prompt_version", "model", "response_model",
    "provider", "environment", "feature", "user_id", "session_id", "service", "status",
    "error_type", "error_message", "http_status", "latency_ms", "ttft_ms", "input_tokens",
    "output_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens", "cost_usd",
    "price_ref", "cache_hit", "retries", "metadata",
)  # fmt: skip


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def shape_call(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it: timestamps RFC 3339 in UTC."""
    out = dict(row)
    if isinstance(out.get("timestamp"), datetime):
        out["timestamp"] = _iso(out["timestamp"])
    if isinstance(out.get("metadata"), str):  # stored as JSON text by some backends
        out["metadata"] = orjson.loads(out["metadata"])
    return out


@router.get(
    "/calls",
    summary="Recent raw calls in a range, newest first",
    description="Filters as for /v1/metrics (repeat a parameter for several values): "
    f"{', '.join(FILTERS)}, metadata.<key>. `status=error` lists failing calls.",
    openapi_extra=query_params(CALLS_PARAMS),
    **answer(CallsPage),
)
async def calls(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    ctx = context(request)
    q = parse_calls(request.query_params, ctx.clock())
    scope = restrict_to_key(key, q.scope)
    rows = await run_in_threadpool(ctx.store.calls, scope, COLUMNS, q.limit)
    return {
        "from": _iso(scope.start.replace(tzinfo=None)),
        "to": _iso(scope.end.replace(tzinfo=None)),
        "limit": q.limit,
        "calls": [shape_call(r) for r in rows],
    }
