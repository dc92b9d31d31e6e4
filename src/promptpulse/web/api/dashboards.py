"""/v1/dashboards: a project's custom dashboards (list, create) and /v1/dashboards/{id} (get,
replace, delete).

The body is read here rather than by FastAPI so that a dashboard from a newer version is refused
for its `version` alone and every problem is named by its path (`widgets[2].metric`,
dashboards.spec). Reads need `read`; writes need `admin`, like every stored object's (crud.py).
A project key reaches its own project's dashboards; an admin key for all projects names the
project of a new one with `?project=`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.dashboards import DashboardIn, metric_names, parse, repo
from promptpulse.errors import BadRequest, TooLarge
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import context
from promptpulse.web.openapi import json_body
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import Out, answer

router = APIRouter(prefix="/v1/dashboards", tags=["dashboards"], responses=documented(401, 403))
MAX_BYTES = 1 << 20  # a dashboard of 60 widgets is a few KiB

EXAMPLE = {
    "version": 1,
    "name": "Support bot",
    "range": "7d",
    "filters": {"prompt_id": ["support-answer"]},
    "widgets": [
        {"id": "calls", "type": "number", "title": "Calls", "metric": "requests",
         "position": {"x": 0, "y": 0, "w": 3, "h": 2}},
        {"id": "p95", "type": "line", "title": "p95 by hour", "metrics": ["latency_p95_ms"],
         "position": {"x": 3, "y": 0, "w": 9, "h": 4}},
        {"id": "models", "type": "donut", "title": "Calls by model", "metric": "requests",
         "dimension": "model", "position": {"x": 0, "y": 2, "w": 3, "h": 4}},
    ],
}  # fmt: skip


class DashboardOut(Out):
    id: str
    project: str
    version: int
    name: str
    widgets: list[dict[str, Any]]
    created_at: str
    updated_at: str


class DashboardList(Out):
    dashboards: list[DashboardOut]


def _oid() -> Any:
    return Path(alias="dashboard_id")


async def _spec(request: Request, project: str) -> DashboardIn:
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"a dashboard is at most {MAX_BYTES} bytes of JSON")
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    names = await run_in_threadpool(metric_names, context(request).meta.engine, project)
    return parse(decoded, names, project)


@router.get("", summary="The key's project's dashboards", **answer(DashboardList))
async def list_dashboards(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    engine = context(request).meta.engine
    found = await run_in_threadpool(repo.list_all, engine, key.project)
    return {"dashboards": [d.public() for d in found]}


@router.post(
    "",
    status_code=201,
    summary="Create a dashboard (its JSON, as exported)",
    responses=documented(400, 413, 422),
    openapi_extra=json_body(DashboardIn, EXAMPLE),
    **answer(DashboardOut),
)
async def create_dashboard(request: Request, key: ApiKey = Depends(require(Scope.ADMIN))) -> Any:
    project = project_for_write(key, request.query_params.get("project"))
    spec = await _spec(request, project)
    engine, now = context(request).meta.engine, context(request).clock()
    made = await run_in_threadpool(repo.create, engine, project, spec, key.id, now)
    return made.public()


@router.get(
    "/{dashboard_id}",
    summary="One dashboard: its JSON (export)",
    responses=documented(404),
    **answer(DashboardOut),
)
async def get_dashboard(
    request: Request, oid: str = _oid(), key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    engine = context(request).meta.engine
    return (await run_in_threadpool(repo.get, engine, oid, key.project)).public()


@router.put(
    "/{dashboard_id}",
    summary="Replace a dashboard's JSON",
    responses=documented(400, 404, 413, 422),
    openapi_extra=json_body(DashboardIn, EXAMPLE),
    **answer(DashboardOut),
)
async def put_dashboard(
    request: Request, oid: str = _oid(), key: ApiKey = Depends(require(Scope.ADMIN))
) -> Any:
    engine, now = context(request).meta.engine, context(request).clock()
    current = await run_in_threadpool(repo.get, engine, oid, key.project)  # 404 first
    spec = await _spec(request, current.project)
    done = await run_in_threadpool(repo.replace, engine, oid, key.project, spec, now)
    return done.public()


@router.delete(
    "/{dashboard_id}", status_code=204, summary="Delete a dashboard", responses=documented(404)
)
async def delete_dashboard(
    request: Request, oid: str = _oid(), key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    await run_in_threadpool(repo.delete, context(request).meta.engine, oid, key.project)
