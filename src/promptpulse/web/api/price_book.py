"""The price book's entries and repricing: /v1/prices/entries, /v1/prices/reprice(s).

Included before the model-level router (web/api/prices.py), whose `/{model:path}` would
otherwise take these paths as model names."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import (
    ApiKey,
    Scope,
    add_entry,
    delete_entry,
    get_entry,
    list_entries,
    update_entry,
)
from promptpulse.model import PriceEntry, PriceOverride
from promptpulse.prices import RepriceRequest, get_reprice, list_reprices
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import AppContext, context
from promptpulse.web.problems import documented

router = APIRouter(prefix="/v1/prices", tags=["prices"], responses=documented(401, 403, 422))
EntryId = Path(..., ge=1, le=2**31 - 1, description="A price entry's id")
RepriceId = Path(..., ge=1, le=2**31 - 1, description="A reprice's id in the audit trail")


class PriceValidity(BaseModel):
    """A model's prices and when they apply: the body of `PUT /v1/prices/{model}` too."""

    input_per_mtok: float = Field(..., ge=0, allow_inf_nan=False, description="USD / 1M input")
    output_per_mtok: float = Field(..., ge=0, allow_inf_nan=False, description="USD / 1M output")
    cached_input_per_mtok: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="USD / 1M cached input (default: input)"
    )
    valid_from: datetime | None = Field(
        None, description="First UTC day it prices (a UTC midnight; absent: since always)"
    )
    valid_to: datetime | None = Field(
        None, description="First UTC day it no longer prices (a UTC midnight; absent: open)"
    )


class PriceFields(PriceValidity):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=500)


class EntryIn(PriceFields):
    model: str = Field(..., min_length=1, max_length=200)
    project: str | None = Field(None, description="Required with an admin key")


class RepriceRunning(BaseModel):
    """A reprice still running when the wait ended: follow `location` (also the header)."""

    id: int
    status: str = Field(description="`running`")
    location: str = Field(description="GET it for the audit row, `done` when finished")


class RepriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(..., alias="from", description="Start (inclusive, with offset)")
    to: datetime = Field(..., description="End (exclusive, with offset)")
    model: str | None = Field(None, max_length=200)
    project: str | None = Field(None, max_length=100)
    dry_run: bool = Field(True, description="Only report the difference (the default)")


def entry_out(e: PriceEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "project": e.project,
        "model": e.price.model,
        "input_per_mtok": e.price.input_per_mtok,
        "output_per_mtok": e.price.output_per_mtok,
        "cached_input_per_mtok": e.price.cached_input_per_mtok,
        "valid_from": _iso(e.valid_from),
        "valid_to": _iso(e.valid_to),
        "note": e.note,
    }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _price(model: str, body: PriceFields) -> PriceOverride:
    return PriceOverride(
        model, body.input_per_mtok, body.output_per_mtok, body.cached_input_per_mtok
    )


def changed(ctx: AppContext, entry: PriceEntry) -> None:
    """A price entry was added or corrected: ingest prices with it within the cache's second,
    and its model's unpriced calls in its validity are repriced by the leader."""
    ctx.prices.invalidate()
    ctx.reprices.queue_for_entry(entry)


@router.get("/entries", summary="The price book: entries of the key's project (admin: all)")
async def get_entries(
    request: Request,
    model: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    found = await run_in_threadpool(list_entries, context(request).meta, key.project, model)
    return {"entries": [entry_out(e) for e in found]}


@router.post(
    "/entries",
    status_code=201,
    summary="Add a price entry (409 if it overlaps)",
    responses=documented(409),
)
async def post_entry(
    request: Request, body: EntryIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    ctx = context(request)
    project = project_for_write(key, body.project)
    entry = await run_in_threadpool(
        add_entry, ctx.meta, project, _price(body.model, body), body.valid_from, body.valid_to,
        body.note,
    )  # fmt: skip
    await run_in_threadpool(changed, ctx, entry)
    return entry_out(entry)


@router.put(
    "/entries/{entry_id}",
    summary="Correct a price entry (prices and validity)",
    responses=documented(404, 409),
)
async def put_entry(
    request: Request,
    body: PriceFields,
    entry_id: int = EntryId,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    ctx = context(request)
    _, after = await run_in_threadpool(
        update_entry, ctx.meta, entry_id, _price("-", body), body.valid_from, body.valid_to,
        body.note, key.project,
    )  # fmt: skip
    await run_in_threadpool(changed, ctx, after)
    return entry_out(after)


@router.get("/entries/{entry_id}", summary="One price entry", responses=documented(404))
async def get_one_entry(
    request: Request, entry_id: int = EntryId, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    return entry_out(
        await run_in_threadpool(get_entry, context(request).meta, entry_id, key.project)
    )


@router.delete(
    "/entries/{entry_id}",
    status_code=204,
    summary="Delete a price entry",
    responses=documented(404),
)
async def remove_entry(
    request: Request, entry_id: int = EntryId, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    ctx = context(request)
    await run_in_threadpool(delete_entry, ctx.meta, entry_id, key.project)
    ctx.prices.invalidate()


@router.post(
    "/reprice",
    summary="Reprice stored calls (dry_run: the difference per model, day)",
    description="A dry run answers the report. A reprice that writes is answered when it is "
    "done, or after PROMPTPULSE_REPRICE_WAIT_S with 202 `{id, status: running}` and a "
    "Location to follow (GET /v1/prices/reprices/{id}); it goes on either way.",
    responses={**documented(400), 202: {"model": RepriceRunning, "description": "Still running"}},
)
async def post_reprice(
    request: Request, body: RepriceIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> Any:
    ctx = context(request)
    project = body.project if key.project is None else project_for_write(key, body.project)
    req = RepriceRequest(
        body.from_, body.to, project, body.model, body.dry_run,
        actor=key.name or key.prefix,
    )  # fmt: skip
    if req.dry_run:
        return await run_in_threadpool(ctx.reprices.reprice, req)
    reprice_id, future = await run_in_threadpool(ctx.reprices.start, req)
    try:
        return await asyncio.wait_for(
            asyncio.shield(asyncio.wrap_future(future)), ctx.settings.reprice_wait_s
        )
    except TimeoutError:
        where = f"/v1/prices/reprices/{reprice_id}"
        body_out = {"id": reprice_id, "status": "running", "location": where}
        return JSONResponse(body_out, status_code=202, headers={"Location": where})


@router.get("/reprices", summary="The audit trail of repricing, newest first")
async def get_reprices(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    rows = await run_in_threadpool(list_reprices, context(request).meta, key.project, limit)
    return {"reprices": rows}


@router.get(
    "/reprices/{reprice_id}",
    summary="One reprice of the audit trail",
    responses=documented(404),
)
async def get_one_reprice(
    request: Request, reprice_id: int = RepriceId, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    return await run_in_threadpool(get_reprice, context(request).meta, reprice_id, key.project)
