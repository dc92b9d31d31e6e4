"""/v1/reports: preview a report, send one now, and CRUD the schedules that send them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden, invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import Errors, Param, ParamKind, parse_time, read
from promptpulse.reports import ReportService, render_html, render_markdown, render_text
from promptpulse.reports import schedules as sch
from promptpulse.reports.model import Report
from promptpulse.reports.periods import PERIODS, zone
from promptpulse.web.api.alerts import validation_error
from promptpulse.web.auth import require
from promptpulse.web.context import context
from promptpulse.web.crud import Resource, Summaries, add_crud_routes
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.data import DueSends, SentReport
from promptpulse.web.schemas.objects import ScheduleList, ScheduleOut

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=documented(401, 403, 422))
FORMATS = ("json", "markdown", "html", "text")
SEND_FIELDS = {"period", "timezone", "project", "as_of", "min_requests", "channels"}

PREVIEW_PARAMS: tuple[Param, ...] = (
    Param("period", ParamKind.CHOICE, "The period reported", default="week", choices=PERIODS),
    Param("format", ParamKind.CHOICE, "The answer's format", default="json", choices=FORMATS),
    Param("timezone", ParamKind.TEXT, "IANA time zone of the period's boundaries", default="UTC"),
    Param("project", ParamKind.TEXT, "One project (admin keys: default all)"),
    Param(
        "as_of",
        ParamKind.TIME,
        "Report the last period complete at this time (RFC 3339; default now)",
    ),
    Param("min_requests", ParamKind.INT, "Calls a prompt needs on each side (≥ 1)", default=20),
)


@dataclass(frozen=True)
class ReportArgs:
    period: str
    timezone: str
    project: str | None
    as_of: datetime | None
    min_requests: int


def _service(request: Request) -> ReportService:
    return context(request).reports


def _project(key: ApiKey, asked: str | None) -> str | None:
    """A project key reports on its project only; an admin key on one project or all."""
    if key.project is None:
        return asked
    if asked is not None and asked != key.project:
        raise Forbidden(f"this key may read only project '{key.project}'")
    return key.project


def _check_zone(tz: str, errors: Errors) -> None:
    try:
        zone(tz)
    except ValueError as exc:
        errors.add("timezone", str(exc))


def _send_args(body: dict[str, Any]) -> ReportArgs:
    """What /send's body asks for, checked."""
    errors = Errors()
    period = body.get("period") or "week"
    if period not in PERIODS:
        errors.add("period", f"'{period}' is not one of {', '.join(PERIODS)}")
    tz = body.get("timezone") or "UTC"
    _check_zone(tz, errors)
    as_of = None
    if body.get("as_of"):
        try:
            as_of = parse_time(str(body["as_of"]), "as_of")
        except Exception as exc:  # Invalid: keep its field error
            errors.items.extend(getattr(exc, "errors", []))
    min_requests = body.get("min_requests") or 20
    try:
        min_requests = int(min_requests)
        if min_requests < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors.add("min_requests", "must be a whole number ≥ 1")
    errors.raise_if_any()
    return ReportArgs(period, tz, body.get("project"), as_of, min_requests)


def _build(request: Request, key: ApiKey, args: ReportArgs) -> Report:
    return _service(request).build(
        args.period,
        project=_project(key, args.project),
        timezone=args.timezone,
        as_of=args.as_of,
        min_requests=args.min_requests,
    )


@router.get(
    "/preview",
    summary="The report of the last whole period, without sending it",
    openapi_extra=query_params(PREVIEW_PARAMS),
    responses={
        200: {
            "description": "The report: JSON, or rendered as format= asks",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def preview(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Response:
    errors = Errors()
    v = read(PREVIEW_PARAMS, request.query_params, errors)
    _check_zone(v["timezone"], errors)
    min_requests = v["min_requests"] or 20  # as /send: 0 is the default
    if min_requests < 1:
        errors.add("min_requests", "must be a whole number ≥ 1")
    errors.raise_if_any()
    args = ReportArgs(v["period"], v["timezone"], v["project"], v["as_of"], min_requests)
    report = await run_in_threadpool(_build, request, key, args)
    fmt = v["format"]
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


@router.post(
    "/send", summary="Build a report now and send it to the channels given", **answer(SentReport)
)
async def send(
    request: Request,
    body: dict[str, Any] = Body(
        ..., description=f"channels (required), and any of {', '.join(sorted(SEND_FIELDS))}"
    ),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    channels = _channels(request, body)
    unknown = set(body) - SEND_FIELDS
    if unknown:
        raise invalid(sorted(unknown)[0], "unknown field")
    report = await run_in_threadpool(lambda: _build(request, key, _send_args(body)))
    results = await _service(request).deliver(report, channels)
    return {"period_start": report.start, "period_end": report.end, "results": results}


# ------------------------------------------------------------------ schedules


def _prepare(request: Request, key: ApiKey, spec: sch.ScheduleIn) -> sch.ScheduleIn:
    if key.project is not None:
        if spec.project not in (None, key.project):
            raise Forbidden(f"this key may manage only project '{key.project}'")
        spec = spec.model_copy(update={"project": key.project})
    _check_dirs(request, spec.channels)
    return spec


def _public(request: Request, rec: sch.ScheduleRecord) -> dict[str, Any]:
    return rec.public(context(request).clock())


@router.post(
    "/schedules/run",
    summary="Send every schedule that is due now (a project's key: that project's schedules)",
    **answer(DueSends),
)
async def run_due(request: Request, key: ApiKey = Depends(require(Scope.ADMIN))) -> Any:
    return {"sent": await _service(request).run_due(project=key.project)}


SCHEDULES: Resource[sch.ScheduleIn, sch.ScheduleRecord] = Resource(
    name="schedule",
    plural="schedules",
    body=sch.ScheduleIn,
    out=ScheduleOut,
    listing=ScheduleList,
    summaries=Summaries(
        list="Report schedules",
        create="Create a report schedule",
        get="One report schedule",
        put="Replace a report schedule",
        delete="Delete a report schedule",
    ),
    engine=lambda request: _service(request).engine,
    list=sch.list_schedules,
    create=sch.create_schedule,
    get=sch.get_schedule,
    update=sch.update_schedule,
    delete=sch.delete_schedule,
    prepare=_prepare,
    show=_public,
)
add_crud_routes(router, SCHEDULES, under="/schedules")
