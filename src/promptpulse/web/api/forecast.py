"""GET /v1/forecast: projected end-of-period totals (spend, calls, tokens) with an interval."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.model import CATALOG
from promptpulse.query.forecast import period_bounds, project_period
from promptpulse.query.parse import (
    FILTER_PARAMS,
    FROM,
    TO,
    Errors,
    Param,
    ParamKind,
    parse_time,
    read,
    read_scope,
)
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented

router = APIRouter(tags=["metrics"], responses=documented(401, 403, 422))
ADDITIVE = ", ".join(m.name for m in CATALOG.values() if m.additive)

FORECAST_PARAMS: tuple[Param, ...] = (
    Param("metric", ParamKind.TEXT, f"An additive catalog metric: {ADDITIVE}", default="cost_usd"),
    Param(
        "period",
        ParamKind.CHOICE,
        "The UTC calendar period now is in, or custom (with from and to)",
        default="month",
        choices=("month", "week", "day", "custom"),
    ),
    Param(FROM.name, FROM.kind, "RFC 3339 start of a custom period"),
    Param(TO.name, TO.kind, "RFC 3339 end of a custom period, exclusive"),
    *FILTER_PARAMS,
)


@router.get(
    "/v1/forecast",
    summary="Projected total of an additive metric for the period",
    openapi_extra=query_params(FORECAST_PARAMS),
)
async def forecast(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> dict[str, Any]:
    ctx = context(request)
    params = request.query_params
    errors = Errors()
    now = ctx.clock()
    v = read(FORECAST_PARAMS, params, errors)
    chosen = CATALOG.get(v["metric"])
    if chosen is None or not chosen.additive:
        errors.add("metric", f"must be an additive metric: {ADDITIVE}")
    scope = read_scope(params, now, errors)  # filters (and from/to for custom)
    errors.raise_if_any()
    if v["period"] == "custom":
        if "from" not in params or "to" not in params:
            errors.add("period", "custom needs from and to")
            errors.raise_if_any()
        start, end = parse_time(params["from"], "from"), parse_time(params["to"], "to")
    else:
        start, end = period_bounds(v["period"], now)
    scope = restrict_to_key(key, scope)
    assert chosen is not None  # checked above
    result = await run_in_threadpool(
        project_period, ctx.store, scope.filters, chosen, start, end, now
    )
    return {"period": v["period"], **result.as_dict()}
