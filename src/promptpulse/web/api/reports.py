"""/v1/reports: preview a report, send one now, and CRUD the schedules that send them."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden, invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import Errors, parse_choice, parse_time, single
from promptpulse.reports import ReportService, render_html, render_markdown, render_text
from promptpulse.reports import schedules as sch
from promptpulse.reports.model import Report
from promptpulse.reports.periods import PERIODS, zone
from promptpulse.web.api.alerts import validation_error
from promptpulse.web.auth import require
from promptpulse.web.context import context

router = APIRouter(prefix="/v1/reports", tags=["reports"])
FORMATS = ("json", "markdown", "html", "text")


def _service(request: Request) -> ReportService:
    return context(request).reports


def _project(key: ApiKey, asked: str | None) -> str | None:
    """A project key reports on its project only; an admin key on one project or all."""
    if key.project is None:
        return asked
    if asked is not None and asked != key.project:
        raise Forbidden(f"this key may read only project '{key.project}'")
    return key.project


def _build(request: Request, key: ApiKey, params: dict[str, Any]) -> Report:
    errors = Errors()
    period = params.get("period") or "week"
    if period not in PERIODS:
        errors.add("period", f"'{period}' is not one of {', '.join(PERIODS)}")
    tz = params.get("timezone") or "UTC"
    try:
        zone(tz)
    except ValueError as exc:
        errors.add("timezone", str(exc))
    as_of = None
    if params.get("as_of"):
        try:
            as_of = parse_time(str(params["as_of"]), "as_of")
        except Exception as exc:  # Invalid: keep its field error
            errors.items.extend(getattr(exc, "errors", []))
    min_requests = params.get("min_requests") or 20
    try:
        min_requests = int(min_requests)
        if min_requests < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors.add("min_requests", "must be a whole number ≥ 1")
    errors.raise_if_any()
    return _service(request).build(
        period,
        project=_project(key, params.get("project")),
        timezone=tz,
        as_of=as_of,
        min_requests=min_requests,
    )


@router.get("/preview", summary="The report of the last whole period, without sending it")
async def preview(
    request: Request,
    period: str = Query("week", description="day, week or month"),
    format: str = Query("json", description="json, markdown, html or text"),
    timezone: str = Query("UTC", description="IANA time zone of the period's boundaries"),
    project: str | None = Query(None, description="One project (admin keys: default all)"),
    as_of: str | None = Query(
        None, description="Report the last period complete at this time (RFC 3339; default now)"
    ),
    min_requests: int = Query(20, description="Calls a prompt needs on each side"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Response:
    errors = Errors()
    fmt = parse_choice(request.query_params, "format", errors, FORMATS, "json") or "json"
    single(request.query_params, "period", errors)
    errors.raise_if_any()
    params = {"period": period, "timezone": timezone, "project": project, "as_of": as_of,
              "min_requests": min_requests}  # fmt: skip
    report = await run_in_threadpool(_build, request, key, params)
    if fmt == "html":
        return HTMLResponse(render_html(report))
    if fmt == "markdown":
        return PlainTextResponse(render_markdown(report), media_type="text/markdown")
    if fmt == "text":
        return PlainTextResponse(render_text(report))
    return Response(content=orjson.dumps(report.as_dict()), media_type="application/json")


def _check_dirs(request: Request, channels: list[sch.ReportChannel]) -> None:
    """File channels write under the reports directory only (422 otherwise)."""
    for ch in channels:
        if ch.type == "file":
            sch.resolve_dir(_service(request).reports_dir, ch.dir or ".")


def _channels(request: Request, body: dict[str, Any]) -> list[sch.ReportChannel]:
    raw = body.get("channels")
    if not isinstance(raw, list) or not raw:
        raise invalid("channels", "give at least one channel: email, webhook or file")
    try:
        channels = [sch.ReportChannel.model_validate(c) for c in raw]
    except ValidationError as exc:
        raise validation_error(exc, "channels.") from None
    _check_dirs(request, channels)
    return channels


@router.post("/send", summary="Build a report now and send it to the channels given")
async def send(
    request: Request, body: dict[str, Any] = Body(...), key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    channels = _channels(request, body)
    unknown = set(body) - {"period", "timezone", "project", "as_of", "min_requests", "channels"}
    if unknown:
        raise invalid(sorted(unknown)[0], "unknown field")
    report = await run_in_threadpool(_build, request, key, body)
    results = await _service(request).deliver(report, channels)
    return {"period_start": report.start, "period_end": report.end, "results": results}


# ------------------------------------------------------------------ schedules


def _parse(request: Request, key: ApiKey, body: Any) -> sch.ScheduleIn:
    if not isinstance(body, dict):
        raise invalid("body", "send a JSON object")
    try:
        spec = sch.ScheduleIn.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if key.project is not None:
        if spec.project not in (None, key.project):
            raise Forbidden(f"this key may manage only project '{key.project}'")
        spec = spec.model_copy(update={"project": key.project})
    _check_dirs(request, spec.channels)
    return spec


@router.get("/schedules", summary="Report schedules")
async def list_schedules(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    now = context(request).clock()
    records = await run_in_threadpool(sch.list_schedules, _service(request).engine, key.project)
    return {"schedules": [r.public(now) for r in records]}


@router.post("/schedules", status_code=201, summary="Create a report schedule")
async def create_schedule(
    request: Request, body: dict[str, Any] = Body(...), key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    spec = _parse(request, key, body)
    now = context(request).clock()
    rec = await run_in_threadpool(sch.create_schedule, _service(request).engine, spec, now)
    return rec.public(now)


@router.post("/schedules/run", summary="Send every schedule that is due now")
async def run_due(request: Request, key: ApiKey = Depends(require(Scope.ADMIN))) -> dict[str, Any]:
    if key.project is not None:
        raise Forbidden("running the scheduler needs an admin key for all projects")
    return {"sent": await _service(request).run_due()}


@router.get("/schedules/{schedule_id}", summary="One report schedule")
async def get_schedule(
    request: Request, schedule_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    rec = await run_in_threadpool(
        sch.get_schedule, _service(request).engine, schedule_id, key.project
    )
    return rec.public(context(request).clock())


@router.put("/schedules/{schedule_id}", summary="Replace a report schedule")
async def put_schedule(
    request: Request,
    schedule_id: str,
    body: dict[str, Any] = Body(...),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    spec = _parse(request, key, body)
    now = context(request).clock()
    rec = await run_in_threadpool(
        sch.update_schedule, _service(request).engine, schedule_id, spec, now, key.project
    )
    return rec.public(now)


@router.delete("/schedules/{schedule_id}", status_code=204, summary="Delete a report schedule")
async def delete_schedule(
    request: Request, schedule_id: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    await run_in_threadpool(sch.delete_schedule, _service(request).engine, schedule_id, key.project)
