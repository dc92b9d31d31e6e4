"""GET /v1/compare: variants of any dimension side by side, with tests against the first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.experiments.compare import DEFAULT_GUARDRAILS, DEFAULT_PRIMARY, compare
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import (
    Errors,
    MultiDict,
    parse_choice,
    parse_dimension,
    parse_scope,
    single,
)
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context

router = APIRouter(prefix="/v1", tags=["experiments"])


def parse_list(params: MultiDict, name: str, errors: Errors) -> list[str] | None:
    """A comma list, or the parameter repeated; None when absent."""
    raw = params.getlist(name)
    if not raw:
        return None
    return [v.strip() for item in raw for v in item.split(",") if v.strip()]


def parse_alpha(params: MultiDict, errors: Errors) -> float:
    raw = single(params, "alpha", errors)
    if raw is None:
        return 0.05
    try:
        value = float(raw)
    except ValueError:
        errors.add("alpha", f"'{raw}' is not a number")
        return 0.05
    if not 0 < value < 0.5:
        errors.add("alpha", "must be between 0 and 0.5 (e.g. 0.05)")
    return value


@router.get(
    "/compare",
    summary="Compare values of a dimension: figures, CIs, p-values, winner",
    description=(
        "Each value of `by` is a variant; the first is the control. Every other variant is tested "
        "against it: rates by the two-proportion z-test (Fisher's exact test at small counts), "
        "the median by Mann–Whitney U, other percentiles by bootstrap, per-request means by "
        "Welch's t-test; Holm-adjusted with more than two variants. `difference` is variant "
        "minus control in the metric's unit. Filters as in /v1/metrics."
    ),
)
async def get_compare(
    request: Request,
    by: str = Query(..., description="A dimension, or metadata.<key>"),
    values: str = Query(..., description="Comma list of values; the first is the control"),
    primary: str | None = Query(
        None, description=f"Metric deciding the winner (default {DEFAULT_PRIMARY})"
    ),
    guardrails: str | None = Query(
        None,
        description="Comma list of metrics that must not get "
        f"significantly worse (default {','.join(DEFAULT_GUARDRAILS)};"
        " `none` for none)",
    ),
    direction: str | None = Query(
        None,
        description="higher or lower: which way the primary "
        "metric is better (default: the catalog's)",
    ),
    alpha: str | None = Query(None, description="Significance level (default 0.05)"),
    from_: str | None = Query(None, alias="from", description="RFC 3339 start (default to − 24 h)"),
    to: str | None = Query(None, description="RFC 3339 end, exclusive (default now)"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    ctx = context(request)
    params = request.query_params
    errors = Errors()
    scope = parse_scope(params, ctx.clock(), errors)
    dim = parse_dimension(single(params, "by", errors), "by", errors, required=True)
    chosen = parse_list(params, "values", errors) or []
    main = single(params, "primary", errors) or DEFAULT_PRIMARY
    rails = parse_list(params, "guardrails", errors)
    rails = list(DEFAULT_GUARDRAILS) if rails is None else [g for g in rails if g != "none"]
    way = parse_choice(params, "direction", errors, ("higher", "lower"), None)
    level = parse_alpha(params, errors)
    errors.raise_if_any()
    assert dim is not None
    scope = restrict_to_key(key, scope)
    return await run_in_threadpool(
        compare,
        ctx.store,
        scope,
        dim,
        chosen,
        main,
        rails,
        level,
        way,
    )
