"""Per-project price overrides: /v1/prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope, delete_price, list_prices, set_price
from promptpulse.model import PriceOverride
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import context
from promptpulse.web.problems import documented

router = APIRouter(prefix="/v1/prices", tags=["prices"], responses=documented(401, 403, 422))


class PriceIn(BaseModel):
    input_per_mtok: float = Field(..., ge=0, allow_inf_nan=False, description="USD / 1M input")
    output_per_mtok: float = Field(..., ge=0, allow_inf_nan=False, description="USD / 1M output")
    cached_input_per_mtok: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="USD / 1M cached input (default: input)"
    )


def _out(project: str, o: PriceOverride) -> dict[str, Any]:
    return {
        "project": project,
        "model": o.model,
        "input_per_mtok": o.input_per_mtok,
        "output_per_mtok": o.output_per_mtok,
        "cached_input_per_mtok": o.cached_input_per_mtok,
    }


@router.get("", summary="Price overrides of the key's project (admin: all)")
async def get_prices(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    rows = await run_in_threadpool(list_prices, context(request).meta, key.project)
    return {"prices": [_out(p, o) for p, o in rows]}


@router.put("/{model:path}", summary="Set a model's price for a project")
async def put_price(
    request: Request,
    model: str,
    price: PriceIn,
    project: str | None = Query(None, description="Required with an admin key"),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    ctx = context(request)
    target = project_for_write(key, project)
    override = PriceOverride(
        model, price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok
    )
    await run_in_threadpool(set_price, ctx.meta, target, override)
    ctx.prices.invalidate()
    return _out(target, override)


@router.delete("/{model:path}", status_code=204, summary="Remove a model's price override")
async def remove_price(
    request: Request,
    model: str,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> None:
    ctx = context(request)
    await run_in_threadpool(delete_price, ctx.meta, project_for_write(key, project), model)
    ctx.prices.invalidate()
