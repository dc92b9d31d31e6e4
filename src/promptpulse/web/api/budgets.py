"""/v1/budgets: CRUD, with spend to date and the projected end-of-period spend; the budget check
(from memory) and backtests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from promptpulse.budgets import MODES, BudgetIn, backtest_budget, budget_status
from promptpulse.budgets.service import repo
from promptpulse.errors import Forbidden
from promptpulse.meta import ApiKey, Scope
from promptpulse.model import FILTERS, METADATA_PREFIX, is_dimension
from promptpulse.query.parse import Errors, Param, ParamKind, parse_choice
from promptpulse.web.auth import require
from promptpulse.web.backtests import BT_FROM, BT_TO, parse_spec, read_range, step_param
from promptpulse.web.backtests import run as run_backtest
from promptpulse.web.context import context
from promptpulse.web.crud import Resource, Summaries, add_crud_routes, scoped
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.alerts import Backtest
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.objects import BudgetCheck, BudgetList, BudgetOut


def _with_status(request: Request, rec: Any) -> dict[str, Any]:
    ctx = context(request)
    return {**rec.public(), "status": budget_status(ctx.store, rec.spec, ctx.clock())}


BUDGETS: Resource[BudgetIn, Any] = Resource(
    name="budget",
    plural="budgets",
    body=BudgetIn,
    out=BudgetOut,
    listing=BudgetList,
    summaries=Summaries(
        list="Budgets with spend to date and projection",
        create="Create a budget",
        get="One budget, its spend and projection (daily)",
        put="Replace a budget",
        delete="Delete a budget",
    ),
    engine=lambda request: context(request).alerts.engine,
    list=repo.list,
    create=repo.create,
    get=repo.get,
    update=repo.update,
    delete=repo.delete,
    prepare=scoped,
    show=_with_status,
)
router = APIRouter(prefix="/v1/budgets", tags=["budgets"], responses=documented(401, 403, 422))

MODE = Param(
    "mode", ParamKind.CHOICE,
    "spent: refused when a matching budget is spent (at or over its amount); projected: also "
    "when its projection overruns", choices=MODES, default="spent",
)  # fmt: skip
CALL_PARAMS = tuple(
    Param(d, ParamKind.TEXT, f"The call's {d}" if d != "tag" else "A tag of the call (repeat)")
    for d in FILTERS
)


def _call(request: Request, key: ApiKey) -> dict[str, list[str]]:
    """The call described by the query: every filter dimension and metadata.<key> given."""
    call: dict[str, list[str]] = {}
    errors = Errors()
    for name in request.query_params:
        if name == "mode":
            continue
        if name not in FILTERS and not (name.startswith(METADATA_PREFIX) and is_dimension(name)):
            errors.add(name, f"not one of {', '.join(FILTERS)}, metadata.<key>, mode")
            continue
        call[name] = request.query_params.getlist(name)
    errors.raise_if_any()
    if key.project is not None:
        if call.get("project", [key.project]) != [key.project]:
            raise Forbidden(f"this key may check only project '{key.project}'")
        call["project"] = [key.project]
    return call


@router.get(
    "/check",
    summary="Would a call with these attributes be over budget? From memory, well under a ms",
    openapi_extra=query_params((*CALL_PARAMS, MODE)),
    response_model=BudgetCheck,
)
async def check(
    request: Request, response: Response, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    errors = Errors()
    mode = str(parse_choice(request.query_params, "mode", errors, MODES, "spent"))
    errors.raise_if_any()
    answer, seconds = context(request).budget_checks.check(_call(request, key), mode, key.project)
    response.headers["Server-Timing"] = f"check;dur={seconds * 1000:.4f}"
    return answer


BT_STEP = step_param("1h")


@router.post(
    "/backtest",
    summary="What a budget's alerts would have done over a past range (saves and sends nothing)",
    openapi_extra=query_params((BT_FROM, BT_TO, BT_STEP)),
    **answer(Backtest),
)
async def backtest(
    request: Request,
    body: dict[str, Any] = Body(..., description="A budget, as for POST /v1/budgets"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Any:
    start, end, step = read_range(request.query_params, BT_STEP)
    budget = scoped(request, key, parse_spec(BudgetIn, body))
    ctx = context(request)
    return await run_backtest(backtest_budget, ctx.store, budget, start, end, step, ctx.clock())


add_crud_routes(router, BUDGETS)  # after /check, which /{budget_id} would match
