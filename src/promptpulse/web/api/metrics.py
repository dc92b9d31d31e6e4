"""GET /v1/metrics/overview, /timeseries, /breakdown, /catalog: thin over query.engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.model import FILTERS, METRICS, Sort
from promptpulse.query import engine
from promptpulse.query.parse import (
    Errors,
    parse_choice,
    parse_dimension,
    parse_int,
    parse_interval,
    parse_metrics,
    parse_scope,
    single,
)
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

FROM = Query(None, alias="from", description="RFC 3339 start, inclusive (default: to − 24 h)")
TO = Query(None, description="RFC 3339 end, exclusive (default: now)")
FILTER_DOC = (
    "Filters: repeat a parameter for several values (OR); different parameters AND. "
    f"Names: {', '.join(FILTERS)}, and metadata.<key>. `exact=true`: never answer from "
    'rollups (long ranges otherwise may, saying `"approximate": true`; percentiles within 1 %).'
)
DEFAULT_SERIES = ["requests", "errors", "latency_p95_ms", "cost_usd"]
DEFAULT_BREAKDOWN = [
    "requests",
    "success_rate",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "tokens_per_request",
    "cost_usd",
    "cost_per_request_usd",
]


def _exact(request: Request, errors: Errors) -> bool:
    return parse_choice(request.query_params, "exact", errors, ("true", "false"), "false") == "true"


async def _timed(request: Request, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    started = time.perf_counter()
    try:
        return await run_in_threadpool(fn, *args)
    finally:
        context(request).metrics.query_seconds.labels(name).observe(time.perf_counter() - started)


@router.get("/overview", summary="Every headline figure over a range", description=FILTER_DOC)
async def overview(
    request: Request,
    from_: str | None = FROM,
    to: str | None = TO,
    compare: str | None = Query(
        None,
        description="`previous`: add the same figures for the period of equal length just before",
    ),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    errors = Errors()
    scope = parse_scope(request.query_params, context(request).clock(), errors)
    mode = parse_choice(request.query_params, "compare", errors, ("previous",), None)
    exact_only = _exact(request, errors)
    errors.raise_if_any()
    scope = restrict_to_key(key, scope)
    return await _timed(
        request,
        "overview",
        engine.overview,
        context(request).store,
        scope,
        mode == "previous",
        not exact_only,
    )


@router.get("/timeseries", summary="Metrics per UTC-aligned bucket", description=FILTER_DOC)
async def timeseries(
    request: Request,
    from_: str | None = FROM,
    to: str | None = TO,
    interval: str | None = Query(None, description="minute, hour, day, week (ISO) or month"),
    metrics: str | None = Query(None, description="Comma list of catalog metrics"),
    group_by: str | None = Query(None, description="A dimension: one series per value"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    errors = Errors()
    scope = parse_scope(request.query_params, context(request).clock(), errors)
    chosen = parse_metrics(
        single(request.query_params, "metrics", errors), "metrics", errors, DEFAULT_SERIES
    )
    step = parse_interval(single(request.query_params, "interval", errors), scope, errors)
    dim = parse_dimension(
        single(request.query_params, "group_by", errors), "group_by", errors, required=False
    )
    exact_only = _exact(request, errors)
    errors.raise_if_any()
    scope = restrict_to_key(key, scope)
    return await _timed(
        request,
        "timeseries",
        engine.timeseries,
        context(request).store,
        scope,
        step,
        chosen,
        dim,
        not exact_only,
    )


@router.get("/breakdown", summary="Metrics per value of a dimension", description=FILTER_DOC)
async def breakdown(
    request: Request,
    from_: str | None = FROM,
    to: str | None = TO,
    by: str = Query(..., description="A dimension, or metadata.<key>"),
    metrics: str | None = Query(None, description="Comma list of catalog metrics"),
    sort: str | None = Query(None, description="A catalog metric (default: requests)"),
    order: str | None = Query(None, description="desc (default) or asc"),
    limit: int | None = Query(None, description="1 to 1000 (default 20)"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    errors = Errors()
    params = request.query_params
    scope = parse_scope(request.query_params, context(request).clock(), errors)
    dim = parse_dimension(single(params, "by", errors), "by", errors, required=True)
    chosen = parse_metrics(single(params, "metrics", errors), "metrics", errors, DEFAULT_BREAKDOWN)
    sort_by = parse_metrics(single(params, "sort", errors), "sort", errors, ["requests"])
    direction = parse_choice(params, "order", errors, ("desc", "asc"), "desc")
    count = parse_int(params, "limit", errors, 20, 1, 1000)
    exact_only = _exact(request, errors)
    errors.raise_if_any()
    scope = restrict_to_key(key, scope)
    return await _timed(
        request,
        "breakdown",
        engine.breakdown,
        context(request).store,
        scope,
        dim,
        chosen,
        Sort(sort_by[0].name, direction == "desc"),
        count,
        not exact_only,
    )


@router.get("/catalog", summary="Every metric: name, unit, description")
async def catalog(_: ApiKey = Depends(require(Scope.READ))) -> dict[str, Any]:
    from promptpulse.model import COLUMN_DIMENSIONS, INTERVALS

    return {
        "metrics": [m.as_dict() for m in METRICS],
        "dimensions": [*COLUMN_DIMENSIONS, "metadata.<key>"],
        "filters": [*FILTERS, "metadata.<key>"],
        "intervals": list(INTERVALS),
    }
