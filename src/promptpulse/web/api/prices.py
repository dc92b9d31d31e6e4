"""A project's prices per model: /v1/prices (the price book by model; entries and repricing
are in web/api/price_book.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope, delete_price, list_entries, set_price
from promptpulse.model import PriceOverride
from promptpulse.web.api.price_book import PriceValidity, changed, entry_out
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import context
from promptpulse.web.problems import documented

router = APIRouter(prefix="/v1/prices", tags=["prices"], responses=documented(401, 403, 422))


@router.get("", summary="Prices of the key's project (admin: all), every entry of the book")
async def get_prices(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    rows = await run_in_threadpool(list_entries, context(request).meta, key.project)
    return {"prices": [entry_out(e) for e in rows]}


@router.put(
    "/{model:path}",
    summary="Set a model's price for a project and a validity (default: since always)",
    responses=documented(409),
)
async def put_price(
    request: Request,
    model: str,
    price: PriceValidity,
    project: str | None = Query(None, description="Required with an admin key"),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    ctx = context(request)
    target = project_for_write(key, project)
    override = PriceOverride(
        model, price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok
    )
    entry = await run_in_threadpool(
        set_price, ctx.meta, target, override, price.valid_from, price.valid_to
    )
    await run_in_threadpool(changed, ctx, entry)
    return entry_out(entry)


@router.delete(
    "/{model:path}",
    status_code=204,
    summary="Remove every price entry of a model",
    responses=documented(404),
)
async def remove_price(
    request: Request,
    model: str,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> None:
    ctx = context(request)
    await run_in_threadpool(delete_price, ctx.meta, project_for_write(key, project), model)
    ctx.prices.invalidate()
