"""/v1/budgets: CRUD, with spend to date and the projected end-of-period spend."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from promptpulse.budgets import BudgetIn, budget_status
from promptpulse.budgets.service import repo
from promptpulse.web.context import context
from promptpulse.web.crud import Resource, Summaries, crud_router, scoped
from promptpulse.web.schemas.objects import BudgetList, BudgetOut


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
router = crud_router("/v1/budgets", "budgets", BUDGETS)
