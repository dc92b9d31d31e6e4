"""/v1/slos: CRUD, status (error budget, burn rates, burn alerts) and history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import Errors, parse_interval, parse_scope, single
from promptpulse.slos import SloIn, slo_history, slo_status
from promptpulse.slos.service import repo
from promptpulse.web.api.alerts import scoped_filters, service, validation_error
from promptpulse.web.auth import require
from promptpulse.web.context import context

router = APIRouter(prefix="/v1/slos", tags=["slos"])


def _parse(key: ApiKey, body: Any) -> SloIn:
    if not isinstance(body, dict):
        raise invalid("body", "send a JSON object")
    try:
        return SloIn.model_validate(scoped_filters(key, body))
    except ValidationError as exc:
        raise validation_error(exc) from None


def _with_status(request: Request, rec: Any) -> dict[str, Any]:
    ctx = context(request)
    return {**rec.public(), "status": slo_status(ctx.store, rec.spec, ctx.clock())}


@router.get("", summary="SLOs with their status")
async def list_slos(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> dict[str, Any]:
    engine = service(request).engine

    def load() -> list[dict[str, Any]]:
        return [_with_status(request, r) for r in repo.list(engine, key.project)]

    return {"slos": await run_in_threadpool(load)}


@router.post("", status_code=201, summary="Create an SLO")
async def create_slo(
    request: Request, body: dict[str, Any] = Body(...), key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    spec = _parse(key, body)
    rec = await run_in_threadpool(
        repo.create, service(request).engine, spec, context(request).clock()
    )
    return await run_in_threadpool(_with_status, request, rec)


@router.get("/{slo_id}", summary="One SLO with its status")
async def get_slo(
    request: Request, slo_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    rec = await run_in_threadpool(repo.get, service(request).engine, slo_id, key.project)
    return await run_in_threadpool(_with_status, request, rec)


@router.get("/{slo_id}/history", summary="Per bucket: SLI, burn rate, error budget left")
async def get_history(
    request: Request,
    slo_id: str,
    from_: str | None = Query(None, alias="from", description="Default: to − the SLO window"),
    to: str | None = Query(None, description="Default: now"),
    interval: str | None = Query(None, description="hour or day (default by range)"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    ctx = context(request)
    rec = await run_in_threadpool(repo.get, service(request).engine, slo_id, key.project)
    errors = Errors()
    scope = parse_scope(request.query_params, ctx.clock(), errors)
    if from_ is None:
        from promptpulse.alerts.rules import parse_duration

        scope = type(scope)(scope.end - parse_duration(rec.spec.window), scope.end, ())
    step = parse_interval(single(request.query_params, "interval", errors), scope, errors)
    errors.raise_if_any()
    points = await run_in_threadpool(slo_history, ctx.store, rec.spec, scope.start, scope.end, step)
    return {"id": slo_id, "interval": step, "points": points}


@router.put("/{slo_id}", summary="Replace an SLO")
async def put_slo(
    request: Request,
    slo_id: str,
    body: dict[str, Any] = Body(...),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    spec = _parse(key, body)
    rec = await run_in_threadpool(
        repo.update, service(request).engine, slo_id, spec, context(request).clock(), key.project
    )
    return await run_in_threadpool(_with_status, request, rec)


@router.delete("/{slo_id}", status_code=204, summary="Delete an SLO")
async def delete_slo(
    request: Request, slo_id: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    await run_in_threadpool(repo.delete, service(request).engine, slo_id, key.project)
