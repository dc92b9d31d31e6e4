"""GET /v1/compare: variants of any dimension side by side, with tests against the first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.experiments.compare import DEFAULT_GUARDRAILS, DEFAULT_PRIMARY, compare
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import SCOPE_PARAMS, Errors, Param, ParamKind, read, read_scope
from promptpulse.query.requests import DIMENSIONS
from promptpulse.web.api.custom_metrics import custom_for
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.metrics import Comparisons

router = APIRouter(prefix="/v1", tags=["experiments"], responses=documented(401, 403, 422))

COMPARE_PARAMS: tuple[Param, ...] = (
    *SCOPE_PARAMS,
    Param("by", ParamKind.DIMENSION, f"Each value a variant: {DIMENSIONS}", required=True),
    Param(
        "values",
        ParamKind.LIST,
        "The variants (comma list, or repeat the parameter); the first is the control",
        required=True,
    ),
    Param(
        "primary",
        ParamKind.TEXT,
        "Metric deciding the winner",
        default=DEFAULT_PRIMARY,
    ),
    Param(
        "guardrails",
        ParamKind.LIST,
        "Metrics that must not get significantly worse (default "
        f"{','.join(DEFAULT_GUARDRAILS)}; `none` for none)",
    ),
    Param(
        "direction",
        ParamKind.CHOICE,
        "Which way the primary metric is better (default: the catalog's)",
        choices=("higher", "lower"),
    ),
    Param(
        "alpha", ParamKind.NUMBER, "Significance level", default=0.05, lo=0, hi=0.5, example="0.05"
    ),
)


@router.get(
    "/compare",
    summary="Compare values of a dimension: figures, CIs, p-values, winner",
    description=(
        "Each value of `by` is a variant; the first is the control. Every other variant is tested "
        "against it: rates by the two-proportion z-test (Fisher's exact test at small counts), "
        "the median by Mann–Whitney U, other percentiles by bootstrap, per-request means by "
        "Welch's t-test; Holm-adjusted with more than two variants. `difference` is variant "
        "minus control in the metric's unit. A custom metric (a formula of sums over calls) by the "
        "delta method, or as a proportion when it is one (docs/metrics.md). Filters as in "
        "/v1/metrics."
    ),
    openapi_extra=query_params(COMPARE_PARAMS),
    **answer(Comparisons),
)
async def get_compare(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    ctx = context(request)
    params = request.query_params
    errors = Errors()
    scope = read_scope(params, ctx.clock(), errors)
    v = read(COMPARE_PARAMS, params, errors)
    errors.raise_if_any()
    rails = v["guardrails"]
    rails = list(DEFAULT_GUARDRAILS) if rails is None else [g for g in rails if g != "none"]
    scope = restrict_to_key(key, scope)
    custom = await run_in_threadpool(custom_for, request, key, scope)
    return await run_in_threadpool(
        compare,
        ctx.store,
        scope,
        v["by"],
        v["values"] or [],
        v["primary"],
        rails,
        v["alpha"],
        v["direction"],
        None,
        0,
        custom,
    )
