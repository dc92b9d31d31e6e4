"""/v1/annotations: change markers. POST records one (a deploy, a config change, a prompt change,
a note), GET lists the stored ones merged with prompt-version markers computed from the calls,
DELETE removes a stored one.

Writing needs the `ingest` scope (a deploy pipeline records its deploys with the key it already
has) or `admin`; a project key writes only its own project. Deleting needs `admin`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from promptpulse import markers
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import SCOPE_PARAMS, Errors, read_scope
from promptpulse.web.auth import project_for_write, require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented

router = APIRouter(
    prefix="/v1/annotations", tags=["annotations"], responses=documented(401, 403, 422)
)


class AnnotationFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_id: str | None = Field(None, description="Concerns this prompt only")
    model: str | None = Field(None, description="Concerns this model only")
    environment: str | None = Field(None, description="Concerns this environment only")


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: datetime | None = Field(None, description="RFC 3339 with an offset (default: now)")
    title: str = Field(description="1-200 characters, shown on the marker")
    description: str = Field("", description="At most 2000 characters")
    kind: Literal["deploy", "config", "prompt", "note"] = "note"
    filters: AnnotationFilters | None = Field(None, description="The slice it concerns")
    project: str | None = Field(None, description="Required with an admin key")


@router.post("", status_code=201, summary="Record a change marker (deploy, config, prompt, note)")
async def post_annotation(
    request: Request, body: AnnotationIn, key: ApiKey = Depends(require(Scope.INGEST))
) -> dict[str, Any]:
    project = project_for_write(key, body.project)
    ctx = context(request)
    now = ctx.clock()
    spec = markers.AnnotationSpec(
        body.time or now,
        body.kind,
        body.title,
        body.description,
        body.filters.model_dump(exclude_none=True) if body.filters else {},
    )
    rec = await run_in_threadpool(markers.create, ctx.meta.engine, project, spec, now)
    return rec.as_dict()


@router.get(
    "",
    summary="Change markers in a range: annotations and prompt-version first calls",
    openapi_extra=query_params(SCOPE_PARAMS),
)
async def list_annotations(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    ctx = context(request)
    errors = Errors()
    scope = read_scope(request.query_params, ctx.clock(), errors)
    errors.raise_if_any()
    scope = restrict_to_key(key, scope)
    found = await run_in_threadpool(markers.markers, ctx.meta.engine, ctx.store, scope)
    return {"annotations": found}


@router.delete(
    "/{annotation_id}",
    status_code=204,
    summary="Delete a recorded annotation",
    responses=documented(404),
)
async def delete_annotation(
    request: Request, annotation_id: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    engine = context(request).meta.engine
    await run_in_threadpool(markers.delete, engine, annotation_id, key.project)
