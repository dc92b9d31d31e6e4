"""/v1/alerts: rules, alerts (list, acknowledge, resolve), evaluate now, silences, channel tests,
the delivery log. Thin: parse, check the key's project, delegate to promptpulse.alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from promptpulse.alerts import TEMPLATES, AlertService, RuleIn, backtest_rule
from promptpulse.alerts import repo as alerts_repo
from promptpulse.alerts.rules import SEVERITIES
from promptpulse.alerts.state import STATES
from promptpulse.errors import FieldError, Invalid, invalid
from promptpulse.meta import ApiKey, Scope
from promptpulse.notify import PRIORITY, ChannelSpec, Notification
from promptpulse.web.auth import require
from promptpulse.web.backtests import BT_FROM, BT_TO, parse_spec, read_range, step_param
from promptpulse.web.backtests import run as run_backtest
from promptpulse.web.context import context
from promptpulse.web.crud import Resource, Summaries, add_crud_routes, scoped
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.alerts import (
    Alert,
    AlertDetail,
    AlertList,
    Backtest,
    DeliveryList,
    Round,
    Silence,
    SilenceList,
    Templates,
    TestSend,
)
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.objects import RuleList, RuleOut

BT_STEP = step_param("1m")
router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=documented(401, 403, 422))


def service(request: Request) -> AlertService:
    return context(request).alerts


def validation_error(exc: ValidationError, prefix: str = "") -> Invalid:
    errors = [
        FieldError(
            prefix + (".".join(str(p) for p in e["loc"]) or "body"),
            e["msg"].removeprefix("Value error, "),
        )
        for e in exc.errors()
    ]
    return Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def _public(request: Request, rec: Any) -> dict[str, Any]:
    return rec.public()  # type: ignore[no-any-return]


@router.get(
    "/templates", summary="Built-in rule templates (anomaly and threshold)", **answer(Templates)
)
async def templates(_: ApiKey = Depends(require(Scope.READ))) -> Any:
    return {"templates": [{"name": n, **t} for n, t in TEMPLATES.items()]}


RULES: Resource[RuleIn, Any] = Resource(
    name="rule",
    plural="rules",
    body=RuleIn,
    out=RuleOut,
    listing=RuleList,
    summaries=Summaries(
        list="Alert rules (secrets masked)",
        create="Create a rule",
        get="One rule",
        put="Replace a rule (masked secrets keep their value)",
        delete="Delete a rule",
    ),
    engine=lambda request: service(request).engine,
    list=alerts_repo.list_rules,
    create=alerts_repo.create_rule,
    get=alerts_repo.get_rule,
    update=alerts_repo.update_rule,
    delete=alerts_repo.delete_rule,
    prepare=scoped,
    show=_public,
)


@router.post(
    "/rules/backtest",
    summary="What a rule would have done over a past range (saves and sends nothing)",
    openapi_extra=query_params((BT_FROM, BT_TO, BT_STEP)),
    **answer(Backtest),
)
async def backtest(
    request: Request,
    body: dict[str, Any] = Body(..., description="A rule, as for POST /v1/alerts/rules"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Any:
    start, end, step = read_range(request.query_params, BT_STEP)
    rule = scoped(request, key, parse_spec(RuleIn, body))
    ctx = context(request)
    return await run_backtest(backtest_rule, ctx.store, rule, start, end, step, ctx.clock())


add_crud_routes(router, RULES, under="/rules")  # before /{alert_id}, which would match "rules"


@router.patch(
    "/rules/{rule_id}",
    summary="Change some fields of a rule (e.g. enabled)",
    responses=documented(404),
    **answer(RuleOut),
)
async def patch_rule(
    request: Request,
    rule_id: str,
    body: dict[str, Any] = Body(..., description="Any fields of a rule; the rest stay"),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    engine = service(request).engine
    old = await run_in_threadpool(alerts_repo.get_rule, engine, rule_id, key.project)
    merged = {**old.rule.model_dump(by_alias=True, exclude={"template"}), **body}
    try:
        rule = scoped(request, key, RuleIn.model_validate(merged))
    except ValidationError as exc:
        raise validation_error(exc) from None
    rec = await run_in_threadpool(
        alerts_repo.update_rule, engine, rule_id, rule, context(request).clock(), key.project
    )
    return rec.public()


@router.post(
    "/evaluate",
    summary="Run an evaluation round now (a project's key: that project's rules, budgets and "
    "SLOs only); returns what changed",
    **answer(Round),
)
async def evaluate(request: Request, key: ApiKey = Depends(require(Scope.ADMIN))) -> Any:
    return await service(request).run_round(key.project)


class SilenceIn(BaseModel):
    matchers: dict[str, Any] = Field(
        default_factory=dict,
        description="Any of rule_id, source_id, severity, name, labels{}, scope{} (all must match)",
    )
    starts_at: datetime | None = Field(
        None, description="Default: now (a maintenance window can start later)"
    )
    ends_at: datetime
    comment: str | None = None


@router.get("/silences", summary="Silences and maintenance windows", **answer(SilenceList))
async def list_silences(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    now = context(request).clock()
    items = await run_in_threadpool(alerts_repo.list_silences, service(request).engine, key.project)
    return {"silences": [s.public(now) for s in items]}


@router.post(
    "/silences",
    status_code=201,
    summary="Silence matching alerts for a while",
    **answer(Silence),
)
async def create_silence(
    request: Request, body: SilenceIn, key: ApiKey = Depends(require(Scope.ADMIN))
) -> Any:
    now = context(request).clock()
    allowed = {"rule_id", "source_id", "severity", "name", "labels", "scope"}
    unknown = set(body.matchers) - allowed
    if unknown:
        raise invalid("matchers", f"unknown {', '.join(sorted(unknown))}; use {sorted(allowed)}")
    if body.ends_at.tzinfo is None or (body.starts_at and body.starts_at.tzinfo is None):
        raise invalid("ends_at", "needs a time-zone offset")
    s = await run_in_threadpool(
        alerts_repo.create_silence,
        service(request).engine,
        key.project,
        body.matchers,
        body.starts_at or now,
        body.ends_at,
        body.comment,
        key.name or key.id,
        now,
    )
    return s.public(now)


@router.delete(
    "/silences/{silence_id}", status_code=204, summary="End a silence", responses=documented(404)
)
async def delete_silence(
    request: Request, silence_id: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> None:
    await run_in_threadpool(
        alerts_repo.delete_silence, service(request).engine, silence_id, key.project
    )


@router.post("/channels/test", summary="Send a test notification to a channel", **answer(TestSend))
async def test_channel(
    request: Request,
    body: dict[str, Any] = Body(..., description='A channel, or {"rule_id": ..., "index": 0}'),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    """Body: a channel object, or {"rule_id": ..., "index": 0} to test a stored rule's channel
    (its secrets stay on the server)."""
    svc = service(request)
    if "rule_id" in body:
        rec = await run_in_threadpool(
            alerts_repo.get_rule, svc.engine, str(body["rule_id"]), key.project
        )
        index = int(body.get("index", 0))
        if not 0 <= index < len(rec.rule.channels):
            raise invalid("index", f"the rule has {len(rec.rule.channels)} channel(s)")
        channel = rec.rule.channels[index]
    else:
        try:
            channel = ChannelSpec.model_validate(body)
        except ValidationError as exc:
            raise validation_error(exc) from None
    now = context(request).clock()
    note = Notification(
        event="test",
        alert_id="test",
        alert_type="test",
        severity="info",
        name="PromptPulse test notification",
        source="test",
        source_id="test",
        project=key.project,
        metric="requests",
        value=None,
        threshold=None,
        reason="This is a test: the channel works.",
        timestamp=alerts_tables_iso(now),
        links={"dashboard": svc.base_url + "/"},
    )
    return await svc.dispatcher.send_now(channel, note, key.project)


def alerts_tables_iso(now: datetime) -> str:
    from promptpulse.alerts.tables import iso

    return iso(now) or ""


@router.get("/deliveries", summary="The delivery log (newest first)", **answer(DeliveryList))
async def deliveries(
    request: Request,
    alert_id: str | None = Query(None, description="Deliveries of one alert"),
    limit: int = Query(100, ge=1, le=1000, description="Deliveries at most"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Any:
    rows = await run_in_threadpool(
        alerts_repo.list_deliveries, service(request).engine, key.project, alert_id, limit
    )
    return {"deliveries": rows}


@router.get(
    "", summary="Alerts, newest first: ?state=firing&severity=critical", **answer(AlertList)
)
async def list_alerts(
    request: Request,
    state: list[str] = Query([], description=f"Any of {', '.join(STATES)}, or open"),
    severity: list[str] = Query([], description="info, warning, critical (or P1-P3)"),
    rule_id: str | None = Query(None, description="Alerts of one rule, budget or SLO"),
    limit: int = Query(100, ge=1, le=1000, description="Alerts at most"),
    key: ApiKey = Depends(require(Scope.READ)),
) -> Any:
    states = [s for x in state for s in x.split(",") if s]
    if "open" in states:
        states = [s for s in states if s != "open"] + ["pending", "firing", "acknowledged"]
    bad = [s for s in states if s not in STATES]
    if bad:
        raise invalid("state", f"'{bad[0]}' is not one of {', '.join(STATES)}, open")
    by_p = {v: k for k, v in PRIORITY.items()}
    sevs = [by_p.get(s.upper(), s) for x in severity for s in x.split(",") if s]
    if any(s not in SEVERITIES for s in sevs):
        raise invalid("severity", "info, warning, critical (or P1, P2, P3)")
    rows = await run_in_threadpool(
        alerts_repo.list_alerts, service(request).engine, key.project, states, sevs, rule_id, limit
    )
    return {"alerts": rows}


@router.get(
    "/{alert_id}",
    summary="One alert with its full history",
    responses=documented(404),
    **answer(AlertDetail),
)
async def get_alert(
    request: Request, alert_id: str, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    engine = service(request).engine

    def load() -> dict[str, Any]:
        with engine.connect() as conn:
            row = alerts_repo.get_alert_row(conn, alert_id, key.project)
        out = alerts_repo.alert_public(row)
        out["history"] = alerts_repo.alert_history(engine, alert_id)
        causes = service(request).causes(row.project, out["scope"], row.started_at)
        out["likely_causes"] = list(causes)
        return out

    return await run_in_threadpool(load)


class NoteIn(BaseModel):
    note: str | None = Field(None, max_length=2000)
    by: str | None = Field(None, max_length=200, description="Who (default: the key's name)")


@router.post(
    "/{alert_id}/acknowledge",
    summary="Acknowledge a firing alert (stops reminders)",
    responses=documented(404),
    **answer(Alert),
)
async def acknowledge(
    request: Request,
    alert_id: str,
    body: NoteIn | None = None,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    body = body or NoteIn(note=None, by=None)
    actor = body.by or key.name or f"key {key.id}"
    return await service(request).by_hand(alert_id, "acknowledge", actor, body.note, key.project)


@router.post(
    "/{alert_id}/resolve",
    summary="Resolve an alert by hand",
    responses=documented(404),
    **answer(Alert),
)
async def resolve(
    request: Request,
    alert_id: str,
    body: NoteIn | None = None,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> Any:
    body = body or NoteIn(note=None, by=None)
    actor = body.by or key.name or f"key {key.id}"
    return await service(request).by_hand(alert_id, "resolve", actor, body.note, key.project)
