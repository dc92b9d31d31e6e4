"""GET /v1/metrics/histogram and /v1/metrics/heatmap: thin over query.charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from promptpulse.meta import ApiKey, Scope
from promptpulse.query import charts
from promptpulse.web.api.metrics import _timed
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.charts import Heatmap, Histogram
from promptpulse.web.schemas.common import answer

FILTERS_DOC = "Range and filters as on /v1/metrics/overview; always exact (raw calls)."
router = APIRouter(prefix="/v1/metrics", tags=["metrics"], responses=documented(401, 403, 422))


@router.get(
    "/histogram",
    summary="Distribution of a per-call figure, with exact p50/p95/p99",
    description=(
        "Bins of equal width from 0 to a round number at least 1.25 x p99; the last bin is "
        "open (hi null) and holds everything above. Calls without the figure are left out. "
        + FILTERS_DOC
    ),
    openapi_extra=query_params(charts.HISTOGRAM_PARAMS),
    **answer(Histogram),
)
async def histogram(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    q = charts.parse_histogram(request.query_params, context(request).clock())
    scope = restrict_to_key(key, q.scope)
    store = context(request).store
    return await _timed(request, "histogram", charts.histogram, store, scope, q.field, q.bins)


@router.get(
    "/heatmap",
    summary="Metrics per weekday and hour of a time zone",
    description=(
        "168 cells (weekday Monday=0, hour 0-23, in tz), from raw calls, exact. " + FILTERS_DOC
    ),
    openapi_extra=query_params(charts.HEATMAP_PARAMS),
    **answer(Heatmap),
)
async def heatmap(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    q = charts.parse_heatmap(request.query_params, context(request).clock())
    scope = restrict_to_key(key, q.scope)
    store = context(request).store
    return await _timed(request, "heatmap", charts.heatmap, store, scope, q.metrics, q.tz)
