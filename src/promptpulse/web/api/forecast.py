"""GET /v1/forecast: projected end-of-period totals (spend, calls, tokens) with an interval."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.model import CATALOG
from promptpulse.query.forecast import period_bounds, project_period
from promptpulse.query.parse import Errors, parse_choice, parse_scope, parse_time, single
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context

router = APIRouter(tags=["metrics"])


@router.get("/v1/forecast", summary="Projected total of an additive metric for the period")
async def forecast(
    request: Request,
    metric: str = Query(
        "cost_usd", description="An additive catalog metric: cost_usd, requests, tokens, ..."
    ),
    period: str = Query("month", description="month, week, day, or custom (with from/to)"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    ctx = context(request)
    params = request.query_params
    errors = Errors()
    now = ctx.clock()
    chosen = CATALOG.get(single(params, "metric", errors) or "cost_usd")
    if chosen is None or not chosen.additive:
        names = ", ".join(m.name for m in CATALOG.values() if m.additive)
        errors.add("metric", f"must be an additive metric: {names}")
    kind = parse_choice(params, "period", errors, ("month", "week", "day", "custom"), "month")
    scope = parse_scope(params, now, errors)  # filters (and from/to for custom)
    errors.raise_if_any()
    if kind == "custom":
        if "from" not in params or "to" not in params:
            errors.add("period", "custom needs from and to")
            errors.raise_if_any()
        start, end = parse_time(params["from"], "from"), parse_time(params["to"], "to")
    else:
        start, end = period_bounds(kind or "month", now)
    scope = restrict_to_key(key, scope)
    assert chosen is not None  # checked above
    result = await run_in_threadpool(
        project_period, ctx.store, scope.filters, chosen, start, end, now
    )
    return {"period": kind, **result.as_dict()}
