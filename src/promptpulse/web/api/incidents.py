"""/v1/incidents: related alerts grouped (list, one with its timeline, acknowledge, resolve) and
MTTA / MTTR per rule, severity or project. Thin: parse, check the key's project, delegate to
promptpulse.alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.alerts import incident_views as views
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import Errors, Param, ParamKind
from promptpulse.web.api.alerts import NoteIn, service
from promptpulse.web.auth import require
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.alerts import IncidentDetail, IncidentList, IncidentStats
from promptpulse.web.schemas.common import answer

router = APIRouter(prefix="/v1/incidents", tags=["alerts"], responses=documented(401, 403, 422))

FROM = Param("from", ParamKind.TIME, "RFC 3339: incidents opened at or after (stats: to − 30d)")
TO = Param("to", ParamKind.TIME, "RFC 3339: incidents opened before (stats: now)")
STATE = Param("state", ParamKind.LIST, "Any of open, acknowledged, resolved (comma list)")
LIMIT = Param("limit", ParamKind.INT, "Incidents at most", default=100, lo=1, hi=1000)
BY = Param("by", ParamKind.CHOICE, "Group by", default="rule", choices=views.STATS_BY)
DEFAULT_SPAN = timedelta(days=30)


@router.get(
    "",
    summary="Incidents, newest first: ?state=open",
    openapi_extra=query_params((STATE, FROM, TO, LIMIT)),
    **answer(IncidentList),
)
async def list_incidents(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    errors = Errors()
    p = request.query_params
    states = STATE.read(p, errors) or []
    start, end, limit = FROM.read(p, errors), TO.read(p, errors), LIMIT.read(p, errors)
    bad = [s for s in states if s not in views.INCIDENT_STATES]
    if bad:
        errors.add("state", f"'{bad[0]}' is not one of {', '.join(views.INCIDENT_STATES)}")
    errors.raise_if_any()
    rows = await run_in_threadpool(
        views.list_incidents, service(request).engine, key.project, states, start, end, limit
    )
    return {"incidents": rows}


@router.get(
    "/stats",
    summary="MTTA and MTTR of the incidents opened in [from, to), by rule, severity or project",
    openapi_extra=query_params((FROM, TO, BY)),
    **answer(IncidentStats),
)
async def stats(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    errors = Errors()
    p = request.query_params
    start, end, by = FROM.read(p, errors), TO.read(p, errors), BY.read(p, errors)
    errors.raise_if_any()
    end = end or context(request).clock()
    start = start or end - DEFAULT_SPAN
    if start >= end:
        errors.add("from", "must be before to")
        errors.raise_if_any()
    rows = await run_in_threadpool(
        views.incident_stats, service(request).engine, key.project, start, end, by
    )
    return {"by": by, "from": _iso(start), "to": _iso(end), "rows": rows}


def _iso(x: Any) -> str:
    from promptpulse.alerts.tables import iso

    return iso(x) or ""


@router.get(
    "/{incident_id}",
    summary="One incident with its alerts and timeline",
    responses=documented(404),
    **answer(IncidentDetail),
)
async def get_incident(
    request: Request, incident_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    engine = service(request).engine
    return await run_in_threadpool(views.get_incident, engine, incident_id, key.project)


async def _by_hand(request: Request, incident_id: str, action: str, body: Any, key: ApiKey) -> Any:
    body = body or NoteIn(note=None, by=None)
    actor = body.by or key.name or f"key {key.id}"
    alerts = service(request)
    await alerts.incident_by_hand(incident_id, action, actor, body.note, key.project)
    return await run_in_threadpool(views.get_incident, alerts.engine, incident_id, key.project)


@router.post(
    "/{incident_id}/acknowledge",
    summary="Acknowledge an incident and its firing alerts (stops reminders and escalation)",
    responses=documented(404),
    **answer(IncidentDetail),
)
async def acknowledge(
    request: Request,
    incident_id: str,
    body: NoteIn | None = None,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    return await _by_hand(request, incident_id, "acknowledge", body, key)


@router.post(
    "/{incident_id}/resolve",
    summary="Resolve an incident and every open alert in it",
    responses=documented(404),
    **answer(IncidentDetail),
)
async def resolve(
    request: Request,
    incident_id: str,
    body: NoteIn | None = None,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    return await _by_hand(request, incident_id, "resolve", body, key)
