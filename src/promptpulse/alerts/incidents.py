"""Incidents: related alerts grouped into one, with a timeline. Runs inside the evaluator's and
the by-hand transactions (every function takes the caller's connection), so an alert and its
incident change together or not at all, and a leader takeover sees both or neither.

An alert joins an open incident of the same project that shares a prompt or a model with it
(from the rule's filters or the alert's group), or a likely cause (the same annotated change
just before both started); the incident being open means one of its alerts
still is, so the two overlap in time. Otherwise the alert opens a new incident and is its lead:
the lead's notifications are sent; a joining alert speaks only to its channels the incident has
not reached yet (see `IncidentFlow._gate`), so grouping quiets repeats, never a first page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from promptpulse.alerts import tables as t
from promptpulse.alerts.repo import new_id
from promptpulse.alerts.rules import SEVERITIES
from promptpulse.alerts.state import Subject
from promptpulse.meta import incident_alerts, incident_events, incidents

OPEN = ("open", "acknowledged")


@dataclass(frozen=True)
class Membership:
    incident_id: str
    lead_alert_id: str
    state: str

    def is_lead(self, alert_id: str) -> bool:
        return self.lead_alert_id == alert_id


def related_keys(scope: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The prompts and models an alert is about: its rule's filters and its group value."""
    filters = dict(scope.get("filters") or {})
    for dim, value in (scope.get("group") or {}).items():
        if value is not None:
            filters[dim] = [value]
    return set(map(str, filters.get("prompt_id") or ())), set(map(str, filters.get("model") or ()))


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def event(
    conn: sa.Connection,
    incident_id: str,
    at: datetime,
    kind: str,
    alert_id: str | None = None,
    channel: str | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    conn.execute(
        incident_events.insert().values(
            incident_id=incident_id,
            at=t.naive(at),
            kind=kind,
            alert_id=alert_id,
            channel=channel,
            note=note,
            actor=actor,
        )
    )


def attach(
    conn: sa.Connection,
    s: Subject,
    alert_id: str,
    now: datetime,
    speaks: bool,
    causes: frozenset[str] = frozenset(),
) -> tuple[str, bool]:
    """Put a newly firing alert in an incident: (incident id, True when this alert now speaks
    for it: it opened a new incident, or joined one whose lead never spoke because it was
    silenced and, `speaks` (not silenced itself), takes the lead over). `causes`: the keys of
    the changes just before it started (`cause_key`); sharing one also relates two alerts."""
    prompts, models = related_keys(s.scope)
    q = sa.select(incidents).where(incidents.c.state.in_(OPEN)).order_by(incidents.c.opened_at)
    q = q.where(
        incidents.c.project.is_(None) if s.project is None else incidents.c.project == s.project
    )
    for row in conn.execute(q).all():
        have_p, have_m = set(orjson.loads(row.prompts)), set(orjson.loads(row.models))
        if prompts & have_p or models & have_m or causes & recorded_causes(conn, row.id):
            record_causes(conn, row.id, alert_id, now, causes)
            severity = max(row.severity, s.severity, key=_rank)
            conn.execute(
                incidents.update()
                .where(incidents.c.id == row.id)
                .values(
                    severity=severity,
                    prompts=orjson.dumps(sorted(have_p | prompts)).decode(),
                    models=orjson.dumps(sorted(have_m | models)).decode(),
                )
            )
            _link(conn, row.id, alert_id, now)
            event(conn, row.id, now, "joined", alert_id, note=s.name)
            lead = conn.execute(
                sa.select(t.alerts.c.notified_at).where(t.alerts.c.id == row.lead_alert_id)
            ).scalar()
            if not (speaks and lead is None and row.state == "open"):
                return row.id, False
            conn.execute(
                incidents.update()
                .where(incidents.c.id == row.id)
                .values(lead_alert_id=alert_id, rule_id=s.source_id if s.source == "rule" else None)
            )
            event(conn, row.id, now, "lead", alert_id, note="the lead was silenced")
            return row.id, True
    return _open(conn, s, alert_id, now, prompts, models, causes), True


def _open(
    conn: sa.Connection,
    s: Subject,
    alert_id: str,
    now: datetime,
    prompts: set[str],
    models: set[str],
    causes: frozenset[str],
) -> str:
    """A new incident led by the alert; its id."""
    iid = new_id("inc")
    conn.execute(
        incidents.insert().values(
            id=iid,
            project=s.project,
            title=s.name,
            severity=s.severity,
            state="open",
            lead_alert_id=alert_id,
            rule_id=s.source_id if s.source == "rule" else None,
            prompts=orjson.dumps(sorted(prompts)).decode(),
            models=orjson.dumps(sorted(models)).decode(),
            escalation_step=0,
            opened_at=t.naive(now),
        )
    )
    _link(conn, iid, alert_id, now)
    event(conn, iid, now, "opened", alert_id, note=s.name)
    record_causes(conn, iid, alert_id, now, causes)
    return iid


def cause_key(change: dict[str, Any]) -> str:
    """An annotated change as incidents compare them: by its id."""
    return f"annotation {change.get('id')}"


def recorded_causes(conn: sa.Connection, incident_id: str) -> set[str]:
    q = sa.select(incident_events.c.note).where(
        incident_events.c.incident_id == incident_id, incident_events.c.kind == "cause"
    )
    return {n for n in conn.execute(q).scalars() if n is not None}


def record_causes(
    conn: sa.Connection, incident_id: str, alert_id: str, now: datetime, causes: frozenset[str]
) -> None:
    """Timeline: the changes an alert of the incident followed (each once per incident)."""
    for key in sorted(causes - recorded_causes(conn, incident_id)):
        event(conn, incident_id, now, "cause", alert_id, note=key)


def _link(conn: sa.Connection, incident_id: str, alert_id: str, now: datetime) -> None:
    conn.execute(
        incident_alerts.insert().values(
            alert_id=alert_id, incident_id=incident_id, joined_at=t.naive(now)
        )
    )


def membership(conn: sa.Connection, alert_id: str) -> Membership | None:
    q = (
        sa.select(incidents.c.id, incidents.c.lead_alert_id, incidents.c.state)
        .join(incident_alerts, incident_alerts.c.incident_id == incidents.c.id)
        .where(incident_alerts.c.alert_id == alert_id)
    )
    row = conn.execute(q).first()
    return Membership(row.id, row.lead_alert_id, row.state) if row else None


def member_alerts(conn: sa.Connection, incident_id: str) -> list[Any]:
    q = (
        sa.select(t.alerts)
        .join(incident_alerts, incident_alerts.c.alert_id == t.alerts.c.id)
        .where(incident_alerts.c.incident_id == incident_id)
        .order_by(incident_alerts.c.joined_at, t.alerts.c.id)
    )
    return list(conn.execute(q).all())


def alert_resolved(
    conn: sa.Connection, m: Membership, alert_id: str, now: datetime, actor: str | None
) -> bool:
    """Record an alert's resolution; resolve the incident when it was the last open one.
    True when the incident resolved now."""
    event(conn, m.incident_id, now, "alert_resolved", alert_id, actor=actor)
    still = [a for a in member_alerts(conn, m.incident_id) if a.state != "resolved"]
    if still or m.state == "resolved":
        return False
    conn.execute(
        incidents.update()
        .where(incidents.c.id == m.incident_id)
        .values(state="resolved", resolved_at=t.naive(now))
    )
    event(conn, m.incident_id, now, "resolved", actor=actor)
    return True


def acknowledged(
    conn: sa.Connection, m: Membership, alert_id: str | None, now: datetime, actor: str
) -> None:
    """Someone is on it: acknowledging any of its alerts acknowledges the incident (the first
    acknowledgement is the one MTTA counts) and stops its escalation."""
    if alert_id is not None:
        event(conn, m.incident_id, now, "alert_acked", alert_id, actor=actor)
    if m.state != "open":
        return
    conn.execute(
        incidents.update()
        .where(incidents.c.id == m.incident_id)
        .values(state="acknowledged", acknowledged_at=t.naive(now), acknowledged_by=actor)
    )
    event(conn, m.incident_id, now, "acknowledged", actor=actor)


def unacknowledged(conn: sa.Connection, project: str | None) -> list[Any]:
    """Open incidents nobody has acknowledged: the ones escalation looks at."""
    q = sa.select(incidents).where(incidents.c.state == "open", incidents.c.rule_id.is_not(None))
    if project is not None:
        q = q.where(incidents.c.project == project)
    return list(conn.execute(q).all())


def mark_escalated(conn: sa.Connection, incident_id: str, done: int) -> None:
    conn.execute(
        incidents.update().where(incidents.c.id == incident_id).values(escalation_step=done)
    )


def heard(conn: sa.Connection, incident_id: str, alert_id: str | None = None) -> set[str]:
    """The channels ("type target") the incident has notified (by `alert_id` alone, if given)."""
    q = sa.select(incident_events.c.channel).where(
        incident_events.c.incident_id == incident_id, incident_events.c.kind == "notified"
    )
    if alert_id is not None:
        q = q.where(incident_events.c.alert_id == alert_id)
    return {c for c in conn.execute(q).scalars() if c is not None}
