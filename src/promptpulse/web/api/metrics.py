"""GET /v1/metrics/overview, /timeseries, /breakdown, /catalog: thin over query.engine.

Each route's query parameters are declared once, in `query.requests` (`*_PARAMS`): the same
tuple documents them here and is read by the route's `parse_*`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.experiments.compare import testable
from promptpulse.meta import ApiKey, Scope
from promptpulse.model import COLUMN_DIMENSIONS, FILTERS, INTERVALS, METRICS
from promptpulse.query import engine
from promptpulse.query.requests import (
    BREAKDOWN_PARAMS,
    OVERVIEW_PARAMS,
    SERIES_PARAMS,
    parse_breakdown,
    parse_overview,
    parse_series,
)
from promptpulse.web.api.custom_metrics import custom_for
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.metrics import Breakdown, Catalog, Overview, Timeseries

router = APIRouter(prefix="/v1/metrics", tags=["metrics"], responses=documented(401, 403, 422))

FILTER_DOC = (
    "Filters: repeat a parameter for several values (OR); different parameters AND. "
    f"Names: {', '.join(FILTERS)}, and metadata.<key>. `exact=true`: never answer from "
    'rollups (long ranges otherwise may, saying `"approximate": true`; percentiles within 1 %).'
)


async def _timed(request: Request, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    started = time.perf_counter()
    try:
        return await run_in_threadpool(fn, *args)
    finally:
        context(request).metrics.query_seconds.labels(name).observe(time.perf_counter() - started)


@router.get(
    "/overview",
    summary="Every headline figure over a range",
    description=FILTER_DOC,
    openapi_extra=query_params(OVERVIEW_PARAMS),
    **answer(Overview),
)
async def overview(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    q = parse_overview(request.query_params, context(request).clock())
    scope = restrict_to_key(key, q.scope)
    store = context(request).store
    custom = await run_in_threadpool(custom_for, request, key, scope)
    return await _timed(
        request,
        "overview",
        engine.overview,
        store,
        scope,
        q.compare_previous,
        not q.exact,
        list(custom.values()),
    )


@router.get(
    "/timeseries",
    summary="Metrics per UTC-aligned bucket",
    description=FILTER_DOC,
    openapi_extra=query_params(SERIES_PARAMS),
    **answer(Timeseries),
)
async def timeseries(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    custom = await run_in_threadpool(custom_for, request, key)
    q = parse_series(request.query_params, context(request).clock(), custom)
    scope = restrict_to_key(key, q.scope)
    store = context(request).store
    return await _timed(
        request,
        "timeseries",
        engine.timeseries,
        store,
        scope,
        q.interval,
        q.metrics,
        q.group_by,
        not q.exact,
    )


@router.get(
    "/breakdown",
    summary="Metrics per value of a dimension",
    description=FILTER_DOC,
    openapi_extra=query_params(BREAKDOWN_PARAMS),
    **answer(Breakdown),
)
async def breakdown(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    custom = await run_in_threadpool(custom_for, request, key)
    q = parse_breakdown(request.query_params, context(request).clock(), custom)
    scope = restrict_to_key(key, q.scope)
    store = context(request).store
    return await _timed(
        request,
        "breakdown",
        engine.breakdown,
        store,
        scope,
        q.by,
        q.metrics,
        q.sort,
        q.limit,
        not q.exact,
    )


@router.get(
    "/catalog",
    summary="Every metric: name, unit, description (and the project's custom metrics)",
    **answer(Catalog),
)
async def catalog(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    custom = await run_in_threadpool(custom_for, request, key)
    return {
        "metrics": [
            *(m.as_dict() for m in METRICS),
            *({**m.as_dict(), "comparable": testable(m)} for m in custom.values()),
        ],
        "dimensions": [*COLUMN_DIMENSIONS, "metadata.<key>"],
        "filters": [*FILTERS, "metadata.<key>"],
        "intervals": list(INTERVALS),
    }
