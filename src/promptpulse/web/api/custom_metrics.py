"""/v1/metrics/custom: a project's custom metrics (formulas over catalog metrics and scores), and
`custom_for`, which hands every metrics-taking route the project's custom metrics by name."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from promptpulse.alerts import repo as alerts_repo
from promptpulse.errors import FieldError, Invalid
from promptpulse.experiments import repo as experiments_repo
from promptpulse.meta import UNREACHABLE, ApiKey, Scope
from promptpulse.meta.custom_metrics import (
    CustomSpec,
    create_custom,
    delete_custom,
    get_custom,
    list_custom,
    project_metrics,
    update_custom,
    validate,
)
from promptpulse.model import TIME_FLOOR, Filter, Metric
from promptpulse.model import Scope as QueryScope
from promptpulse.slos import proportion_of, using_metric
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import AppContext, context
from promptpulse.web.problems import documented

log = logging.getLogger("promptpulse.custom_metrics")
router = APIRouter(
    prefix="/v1/metrics/custom", tags=["metrics"], responses=documented(401, 403, 404, 422)
)


class CustomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="[a-z][a-z0-9_]{0,62}, not a catalog name")
    formula: str = Field(description="Arithmetic over catalog metrics and terms (docs/metrics.md)")
    unit: str = Field("", description="Shown with the value, e.g. ratio, ms, usd")
    higher_is_better: bool | None = Field(None, description="The good direction (null: none)")
    description: str = ""
    project: str | None = Field(None, description="Required with an admin key")


class CustomPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    formula: str
    unit: str = ""
    higher_is_better: bool | None = None
    description: str = ""


def custom_for(request: Request, key: ApiKey, scope: QueryScope | None = None) -> dict[str, Metric]:
    """The custom metrics of the project a request reads: the key's, or (an admin key) the one
    project its filter names. Read in a worker thread by callers that are async."""
    project = key.project
    if project is None and scope is not None:
        asked = scope.filter_values("project")
        project = asked[0] if asked is not None and len(asked) == 1 else None
    if project is None:
        project = request.query_params.get("project")
    try:
        return project_metrics(context(request).meta.engine, project)
    except UNREACHABLE:  # reads of catalog metrics go on through a metadata outage
        log.warning("metadata database unreachable: custom metrics of %s not read", project)
        return {}


def known_scores(ctx: AppContext, project: str) -> frozenset[str]:
    """The names of the scores the project has received (on its calls still stored)."""
    now = ctx.clock()
    everything = QueryScope(TIME_FLOOR, now + timedelta(days=1), (Filter("project", (project,)),))
    return frozenset(ctx.store.score_summary(everything))


def _create(ctx: AppContext, project: str, body: CustomIn) -> dict[str, Any]:
    spec = CustomSpec(body.name, body.formula, body.unit, body.higher_is_better, body.description)
    scores = known_scores(ctx, project) if "score." in body.formula else None
    return create_custom(ctx.meta.engine, project, spec, ctx.clock(), scores).as_dict()


def _delete(ctx: AppContext, project: str, name: str) -> None:
    """Refused (nothing deleted) while an alert rule, an SLO or an experiment of the project
    names it: they would fail every round and every read."""
    users = [
        f"alert rule '{r.rule.name}'"
        for r in alerts_repo.list_rules(ctx.meta.engine, project)
        if r.rule.metric == name
    ]
    users += [f"SLO '{s}'" for s in using_metric(ctx.meta.engine, project, name)]
    users += [
        f"experiment '{e.name}'"
        for e in experiments_repo.list_all(ctx.meta, project)
        if name in (e.primary_metric, *e.guardrails)
    ]
    if users:
        message = f"'{name}' is used by {', '.join(users)}; change or delete those first"
        raise Invalid(f"name: {message}", [FieldError("name", message)])
    delete_custom(ctx.meta.engine, project, name)


def _update(ctx: AppContext, project: str, name: str, body: CustomPut) -> dict[str, Any]:
    spec = CustomSpec(name, body.formula, body.unit, body.higher_is_better, body.description)
    scores = known_scores(ctx, project) if "score." in body.formula else None
    slos = using_metric(ctx.meta.engine, project, name)
    if slos and proportion_of(validate(spec, scores)) is None:  # an SLI must stay a proportion
        message = (
            f"'{name}' is the SLI of SLO '{slos[0]}', which needs a proportion of calls "
            "(good / valid, e.g. count(latency_ms < 2000) / requests); change the SLO first"
        )
        raise Invalid(f"formula: {message}", [FieldError("formula", message)])
    return update_custom(ctx.meta.engine, project, name, spec, ctx.clock(), scores).as_dict()


@router.get("", summary="Custom metrics of the key's project (admin: all, or ?project=)")
async def list_metrics(
    request: Request,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    target = key.project or project
    rows = await run_in_threadpool(list_custom, context(request).meta.engine, target)
    return {"custom_metrics": [r.as_dict() for r in rows]}


@router.post("", status_code=201, summary="Define a custom metric")
async def post_metric(
    request: Request, body: CustomIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    target = project_for_write(key, body.project)
    return await run_in_threadpool(_create, context(request), target, body)


@router.get("/{name}", summary="One custom metric")
async def get_metric(
    request: Request,
    name: str,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    target = project_for_write(key, project)
    found = await run_in_threadpool(get_custom, context(request).meta.engine, target, name)
    return found.as_dict()


@router.put("/{name}", summary="Replace a custom metric's formula, unit, direction")
async def put_metric(
    request: Request,
    name: str,
    body: CustomPut,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    target = project_for_write(key, project)
    return await run_in_threadpool(_update, context(request), target, name, body)


@router.delete("/{name}", status_code=204, summary="Delete a custom metric")
async def remove_metric(
    request: Request,
    name: str,
    project: str | None = Query(None),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> None:
    target = project_for_write(key, project)
    await run_in_threadpool(_delete, context(request), target, name)
