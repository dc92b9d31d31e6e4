"""GET /v1/calls: the most recent raw calls in a range (newest first), for lists and drill-downs.

Read scope; a project key sees only its project. Filters are the metrics API's, so
`?status=error` lists the recent failing calls with their messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.model import FILTERS
from promptpulse.query.parse import Errors, parse_int, parse_scope
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context

router = APIRouter(prefix="/v1", tags=["calls"])

# The call record's own fields a list shows; metadata and tags stay out to keep pages light.
COLUMNS: tuple[str, ...] = (
    "id", "timestamp", "project", "prompt_id", "prompt_version", "model", "provider",
    "environment", "feature", "user_id", "session_id", "status", "error_type", "error_message",
    "http_status", "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd",
    "cache_hit", "retries",
)  # fmt: skip
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def shape_call(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it: timestamps RFC 3339 in UTC."""
    out = dict(row)
    if isinstance(out.get("timestamp"), datetime):
        out["timestamp"] = _iso(out["timestamp"])
    return out


@router.get(
    "/calls",
    summary="Recent raw calls in a range, newest first",
    description="Filters as for /v1/metrics (repeat a parameter for several values): "
    f"{', '.join(FILTERS)}, metadata.<key>. `status=error` lists failing calls.",
)
async def calls(
    request: Request,
    from_: str | None = Query(None, alias="from", description="RFC 3339 start, inclusive"),
    to: str | None = Query(None, description="RFC 3339 end, exclusive (default: now)"),
    limit: int | None = Query(None, description=f"1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    ctx = context(request)
    errors = Errors()
    scope = parse_scope(request.query_params, ctx.clock(), errors)
    count = parse_int(request.query_params, "limit", errors, DEFAULT_LIMIT, 1, MAX_LIMIT)
    errors.raise_if_any()
    scope = restrict_to_key(key, scope)
    rows = await run_in_threadpool(ctx.store.calls, scope, COLUMNS, count)
    return {
        "from": _iso(scope.start.replace(tzinfo=None)),
        "to": _iso(scope.end.replace(tzinfo=None)),
        "limit": count,
        "calls": [shape_call(r) for r in rows],
    }
