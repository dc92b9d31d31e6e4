"""/v1/slos: CRUD, status (error budget, burn rates, burn alerts) and history."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.alerts.rules import parse_duration
from promptpulse.errors import Invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.model import INTERVALS
from promptpulse.model import Scope as QueryScope
from promptpulse.query.parse import (
    FROM,
    TO,
    Errors,
    Param,
    ParamKind,
    parse_interval,
    read,
    read_scope,
)
from promptpulse.slos import SloIn, backtest_slo, slo_history, slo_status
from promptpulse.slos.service import ratio_of, repo, unresolved_status
from promptpulse.web.auth import require
from promptpulse.web.backtests import BT_FROM, BT_TO, parse_spec, read_range, step_param
from promptpulse.web.backtests import run as run_backtest
from promptpulse.web.context import context
from promptpulse.web.crud import Resource, Summaries, crud_router, scoped
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.alerts import Backtest
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.objects import SloHistory, SloList, SloOut


def _with_status(request: Request, rec: Any) -> dict[str, Any]:
    ctx = context(request)
    try:
        ratio = ratio_of(ctx.alerts.engine, rec.spec)
    except Invalid as exc:  # a stored formula that stopped parsing: shown, the others listed
        return {**rec.public(), "status": unresolved_status(rec.spec, ctx.clock(), exc.detail)}
    return {**rec.public(), "status": slo_status(ctx.store, rec.spec, ctx.clock(), ratio)}


SLOS: Resource[SloIn, Any] = Resource(
    name="slo",
    plural="slos",
    body=SloIn,
    out=SloOut,
    listing=SloList,
    summaries=Summaries(
        list="SLOs with their status",
        create="Create an SLO",
        get="One SLO with its status",
        put="Replace an SLO",
        delete="Delete an SLO",
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
router = crud_router("/v1/slos", "slos", SLOS)
BT_STEP = step_param("5m")


@router.post(
    "/backtest",
    summary="What an SLO's burn-rate alerts would have done over a past range (saves nothing)",
    openapi_extra=query_params((BT_FROM, BT_TO, BT_STEP)),
    **answer(Backtest),
)
async def backtest(
    request: Request,
    body: dict[str, Any] = Body(..., description="An SLO, as for POST /v1/slos"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Any:
    start, end, step = read_range(request.query_params, BT_STEP)
    slo = scoped(request, key, parse_spec(SloIn, body))
    ctx = context(request)
    ratio = await run_in_threadpool(ratio_of, ctx.alerts.engine, slo)
    return await run_backtest(backtest_slo, ctx.store, slo, start, end, step, ctx.clock(), ratio)


HISTORY_FROM = Param(FROM.name, FROM.kind, "RFC 3339 start, inclusive (default: to − the window)")
HISTORY_TO = Param(TO.name, TO.kind, "RFC 3339 end, exclusive (default: now)")
HISTORY_INTERVAL = Param(
    "interval",
    ParamKind.CHOICE,
    "Bucket size; hour or day suit most windows (default: by range)",
    choices=tuple(INTERVALS),
)
HISTORY_PARAMS = (HISTORY_FROM, HISTORY_TO, HISTORY_INTERVAL)


@router.get(
    "/{slo_id}/history",
    summary="Per bucket: SLI, burn rate, error budget left",
    responses=documented(404),
    openapi_extra=query_params(HISTORY_PARAMS),
    **answer(SloHistory),
)
async def get_history(
    request: Request, slo_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    ctx = context(request)
    rec = await run_in_threadpool(repo.get, ctx.alerts.engine, slo_id, key.project)
    params = request.query_params
    errors = Errors()
    scope = read_scope(params, ctx.clock(), errors, HISTORY_FROM, HISTORY_TO)
    if "from" not in params:  # the SLO's whole window
        scope = QueryScope(scope.end - parse_duration(rec.spec.window), scope.end, ())
    step = parse_interval(read(HISTORY_PARAMS, params, errors)["interval"], scope, errors)
    errors.raise_if_any()
    spec = rec.spec
    ratio = await run_in_threadpool(ratio_of, ctx.alerts.engine, spec)
    points = await run_in_threadpool(
        slo_history, ctx.store, spec, scope.start, scope.end, step, ratio
    )
    return {"id": slo_id, "interval": step, "points": points}
