"""Data lifecycle: /v1/retention (policies, apply), /v1/erasure, /v1/rollups, /v1/exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden
from promptpulse.exports import MEDIA_TYPES, ExportRequest, ExportService
from promptpulse.meta import ApiKey, Scope
from promptpulse.model import FILTERS, Filter, is_dimension
from promptpulse.model import Scope as QueryScope
from promptpulse.query.parse import Errors, parse_time
from promptpulse.retention import RetentionService
from promptpulse.web.auth import project_for_write, require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.data import ExportJob

router = APIRouter(tags=["data lifecycle"], responses=documented(401, 403, 422))


def _retention(request: Request) -> RetentionService:
    return context(request).retention


def _exports(request: Request) -> ExportService:
    return context(request).exports


class RetentionIn(BaseModel):
    raw_days: int | None = Field(None, description="Days raw calls are kept (0: forever)")
    hourly_days: int | None = Field(None, description="Days hourly rollups are kept")
    daily_days: int | None = Field(None, description="Days daily rollups are kept")


@router.get("/v1/retention", summary="Retention defaults and per-project policies")
async def get_retention(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    return await run_in_threadpool(_retention(request).policies, key.project)


@router.put("/v1/retention/{project}", summary="Override a project's retention (null: default)")
async def put_retention(
    request: Request,
    project: str,
    body: RetentionIn,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    project = project_for_write(key, project)
    return await run_in_threadpool(_retention(request).set_override, project, body.model_dump())


@router.post(
    "/v1/retention/apply",
    summary="Apply the retention policies now (a project's key: that project's policy only)",
)
async def apply_retention(
    request: Request, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    deleted = await run_in_threadpool(_retention(request).apply, None, key.project)
    return {"deleted": deleted}


class ErasureIn(BaseModel):
    project: str = Field(..., max_length=100)
    user_id: str | None = Field(None, max_length=200, description="Only this user's calls")


@router.post("/v1/erasure", summary="Delete a project's or a user's data (right to erasure)")
async def erase(
    request: Request, body: ErasureIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    project = project_for_write(key, body.project)
    return await run_in_threadpool(_retention(request).erase, project, body.user_id)


@router.get(
    "/v1/rollups",
    summary="Rollup tables: rows, fragments, range, raw horizons (of every project: an admin key "
    "for all projects)",
)
async def rollup_status(
    request: Request, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    if key.project is not None:  # the tables' totals and horizons are every project's
        raise Forbidden(
            "rollup status covers every project (and names them): it needs an admin key for "
            "all projects"
        )
    return await run_in_threadpool(context(request).store.rollup_stats)  # type: ignore[attr-defined]


class RebuildIn(BaseModel):
    from_: str = Field(..., alias="from")
    to: str
    project: str | None = None


@router.post("/v1/rollups/rebuild", summary="Rebuild whole days of rollups from raw calls")
async def rebuild(
    request: Request, body: RebuildIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    project = body.project if key.project is None else project_for_write(key, body.project)
    start, end = parse_time(body.from_, "from"), parse_time(body.to, "to")
    store = context(request).store
    done = await run_in_threadpool(store.rebuild_rollups, start, end, project)  # type: ignore[attr-defined]
    return {"rebuilt": done}


class ExportIn(BaseModel):
    format: str = Field("parquet", description="csv, jsonl or parquet")
    from_: str = Field(..., alias="from")
    to: str
    filters: dict[str, list[str] | str] = Field(default_factory=dict)
    columns: list[str] | None = None
    source: str = Field("calls", description="calls, hourly or daily")


def _export_scope(body: ExportIn) -> QueryScope:
    errors = Errors()
    start = end = None
    try:
        start = parse_time(body.from_, "from")
    except Exception as exc:
        errors.items.extend(getattr(exc, "errors", []))
    try:
        end = parse_time(body.to, "to")
    except Exception as exc:
        errors.items.extend(getattr(exc, "errors", []))
    if start and end and start >= end:
        errors.add("from", "must be earlier than to")
    filters = []
    for name, values in body.filters.items():
        vals = (values,) if isinstance(values, str) else tuple(values)
        if name not in FILTERS and not is_dimension(name):
            errors.add(f"filters.{name}", "not a filter")
        elif not vals:
            errors.add(f"filters.{name}", "needs a value")
        else:
            filters.append(Filter(name, vals))
    errors.raise_if_any()
    assert start is not None and end is not None
    return QueryScope(start, end, tuple(filters))


@router.post("/v1/exports", status_code=202, summary="Start an export job", **answer(ExportJob))
async def create_export(
    request: Request, body: ExportIn, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    scope = restrict_to_key(key, _export_scope(body))
    req = ExportRequest.validate(
        context(request).store, body.format, body.source, body.columns, scope, key.project
    )
    return _exports(request).submit(req).as_dict()


@router.get(
    "/v1/exports/{export_id}",
    summary="An export job: status, progress, manifest",
    responses=documented(404),
    **answer(ExportJob),
)
async def get_export(
    request: Request, export_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    return _exports(request).get(export_id, key.project).as_dict()


@router.get(
    "/v1/exports/{export_id}/download",
    summary="The exported file, streamed",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file; `X-Content-SHA256` is its checksum",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES.values()
            },
        },
        **documented(404),
    },
)
async def download_export(
    request: Request, export_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> FileResponse:
    service = _exports(request)
    job = service.get(export_id, key.project)
    path = service.file_of(job)
    media = MEDIA_TYPES[job.request.format]
    sha = job.manifest["files"][0]["sha256"] if job.manifest else ""
    return FileResponse(
        path, media_type=media, filename=path.name, headers={"X-Content-SHA256": sha}
    )
