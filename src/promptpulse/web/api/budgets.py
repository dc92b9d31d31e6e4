"""/v1/budgets: CRUD, with spend to date and the projected end-of-period spend."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from promptpulse.budgets import BudgetIn, budget_status
from promptpulse.budgets.service import repo
from promptpulse.errors import invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.api.alerts import scoped_filters, service, validation_error
from promptpulse.web.auth import require
from promptpulse.web.context import context

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])


def _parse(key: ApiKey, body: Any) -> BudgetIn:
    if not isinstance(body, dict):
        raise invalid("body", "send a JSON object")
    try:
        return BudgetIn.model_validate(scoped_filters(key, body))
    except ValidationError as exc:
        raise validation_error(exc) from None


def _with_status(request: Request, rec: Any) -> dict[str, Any]:
    ctx = context(request)
    return {**rec.public(), "status": budget_status(ctx.store, rec.spec, ctx.clock())}


@router.get("", summary="Budgets with spend to date and projection")
async def list_budgets(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    engine = service(request).engine

    def load() -> list[dict[str, Any]]:
        return [_with_status(request, r) for r in repo.list(engine, key.project)]

    return {"budgets": await run_in_threadpool(load)}


@router.post("", status_code=201, summary="Create a budget")
async def create_budget(
    request: Request, body: dict[str, Any] = Body(...), key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    spec = _parse(key, body)
    engine = service(request).engine
    rec = await run_in_threadpool(repo.create, engine, spec, context(request).clock())
    return await run_in_threadpool(_with_status, request, rec)


@router.get("/{budget_id}", summary="One budget, its spend and projection (daily)")
async def get_budget(
    request: Request, budget_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    rec = await run_in_threadpool(repo.get, service(request).engine, budget_id, key.project)
    return await run_in_threadpool(_with_status, request, rec)


@router.put("/{budget_id}", summary="Replace a budget")
async def put_budget(
    request: Request,
    budget_id: str,
    body: dict[str, Any] = Body(...),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    spec = _parse(key, body)
    rec = await run_in_threadpool(
        repo.update, service(request).engine, budget_id, spec, context(request).clock(), key.project
    )
    return await run_in_threadpool(_with_status, request, rec)


@router.delete("/{budget_id}", status_code=204, summary="Delete a budget")
async def delete_budget(
    request: Request, budget_id: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    await run_in_threadpool(repo.delete, service(request).engine, budget_id, key.project)
