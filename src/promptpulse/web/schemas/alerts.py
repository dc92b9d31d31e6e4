"""Answers of /v1/alerts: alerts and their history, silences, deliveries, templates, rounds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from promptpulse.web.schemas.common import Number, Out

WHEN = "RFC 3339 UTC (null: not yet)"


class Alert(Out):
    id: str
    state: str = Field(description="pending, firing, acknowledged or resolved")
    severity: str
    priority: str | None = Field(description="P1-P3")
    name: str
    source: str = Field(description="rule, budget or slo")
    source_id: str
    alert_type: str
    metric: str
    project: str | None
    scope: dict[str, Any]
    labels: dict[str, Any]
    value: Number | None
    threshold: Number | None
    reason: str | None
    started_at: str | None = Field(description=WHEN)
    fired_at: str | None = Field(description=WHEN)
    acknowledged_at: str | None = Field(description=WHEN)
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at: str | None = Field(description=WHEN)
    resolved_by: str | None
    notified_at: str | None = Field(description=WHEN)
    evaluated_at: str | None = Field(description=WHEN)


class AlertEvent(Out):
    at: str | None
    kind: str
    value: Number | None
    threshold: Number | None
    note: str | None
    actor: str | None


class AlertDetail(Alert):
    history: list[AlertEvent]
    likely_causes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Changes (annotations, prompt-version first calls) in the 2 h before "
        "the alert started that concern its project, prompt and model; newest first",
    )


class AlertList(Out):
    alerts: list[Alert]


class Silence(Out):
    id: str
    project: str | None
    matchers: dict[str, Any]
    starts_at: str | None
    ends_at: str | None
    comment: str | None
    created_by: str | None
    active: bool


class SilenceList(Out):
    silences: list[Silence]


class Delivery(Out):
    id: str
    alert_id: str | None
    channel: str
    target: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    response_status: int | None
    created_at: str | None
    sent_at: str | None


class DeliveryList(Out):
    deliveries: list[Delivery]


class TestSend(Out):
    id: str
    status: str
    attempts: int
    last_error: str | None
    response_status: int | None


class Templates(Out):
    templates: list[dict[str, Any]] = Field(description="name, description and the rule fields")


class Round(Out):
    """What an evaluation round changed, and the deliveries it queued."""

    evaluated_at: str | None
    project: str | None = Field(
        None, description="The project the round was scoped to (null: every project)"
    )
    rules: int
    subjects: int
    queries: int
    changes: list[dict[str, Any]]
    notifications: int
    errors: list[dict[str, Any]]
    duration_ms: Number
    deliveries: list[str] = Field(description="Ids of the deliveries queued")


class Firing(Out):
    start: str = Field(description="When it would have fired (RFC 3339 UTC)")
    end: str | None = Field(description="When it would have resolved (null: still firing at to)")
    ongoing: bool
    minutes: Number
    value: Number | None = Field(description="The value when it fired")
    peak: Number | None = Field(description="The worst value while firing")
    threshold: Number | None
    subject: str = Field(description="The alert's name (with its group, for group_by rules)")
    scope_key: str


class Backtest(Out):
    """What a rule, budget or SLO would have raised over a past range (nothing is saved)."""

    from_: str = Field(alias="from")
    to: str
    step: str = Field(description="The simulated clock's step, in seconds (e.g. 60s)")
    steps: int
    coarsened: bool = Field(description="The step asked for was doubled to bound the work")
    count: int = Field(description="Firings")
    minutes: Number = Field(description="Minutes firing in all (an ongoing one up to to)")
    firings: list[Firing]
    series: list[dict[str, Any]] = Field(
        description="Per subject, [t, value, threshold] points for a chart (at most 1,500)"
    )
    calls: int = Field(description="Calls read (the range and its look-back)")
    warnings: list[str]


class Incident(Out):
    id: str
    project: str | None
    title: str = Field(description="The name of the alert that opened it")
    severity: str = Field(description="The highest of its alerts'")
    state: str = Field(description="open, acknowledged or resolved")
    rule_id: str | None = Field(description="The rule of its lead alert (null: a budget or SLO)")
    lead_alert_id: str = Field(description="The alert whose notifications speak for it")
    prompts: list[str]
    models: list[str]
    escalation_step: int = Field(description="Escalation steps sent so far")
    opened_at: str | None = Field(description=WHEN)
    acknowledged_at: str | None = Field(description=WHEN)
    acknowledged_by: str | None
    resolved_at: str | None = Field(description=WHEN)
    tta_s: Number | None = Field(description="Seconds from opening to acknowledgement")
    ttr_s: Number | None = Field(description="Seconds from opening to resolution")


class IncidentSummary(Incident):
    alerts: int = Field(description="How many alerts it groups")


class IncidentList(Out):
    incidents: list[IncidentSummary]


class TimelineEvent(Out):
    at: str | None
    kind: str = Field(
        description="opened joined lead alert_acked acknowledged alert_resolved resolved "
        "notified escalated"
    )
    alert_id: str | None
    channel: str | None = Field(description="The channel notified (type and target, no secret)")
    note: str | None
    actor: str | None


class IncidentDetail(Incident):
    alerts: list[Alert]
    timeline: list[TimelineEvent]


class IncidentStatsRow(Out):
    key: str | None = Field(description="The rule id, severity or project")
    incidents: int
    acknowledged: int
    resolved: int
    mtta_s: Number | None = Field(description="Mean seconds to acknowledge (null: none acked)")
    mttr_s: Number | None = Field(description="Mean seconds to resolve (null: none resolved)")


class IncidentStats(Out):
    by: str
    from_: str = Field(alias="from")
    to: str
    rows: list[IncidentStatsRow]
