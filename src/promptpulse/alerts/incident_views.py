"""Reading incidents: the list, one incident with its alerts and timeline, and MTTA / MTTR.

MTTA (mean time to acknowledge) is the mean of `acknowledged_at - opened_at` over the incidents
that were acknowledged; MTTR (mean time to resolve) the mean of `resolved_at - opened_at` over
the incidents that resolved. Both count the incidents opened in the half-open range
`[from, to)`, in seconds; null when no incident qualifies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from promptpulse.alerts import tables as t
from promptpulse.alerts.incidents import member_alerts
from promptpulse.alerts.repo import alert_public
from promptpulse.errors import NotFound
from promptpulse.meta import incident_alerts, incident_events, incidents

STATS_BY = ("rule", "severity", "project")
INCIDENT_STATES = ("open", "acknowledged", "resolved")


@dataclass(frozen=True)
class Timing:
    """One incident as the statistics see it."""

    key: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def mtta_mttr(items: Iterable[Timing]) -> list[dict[str, Any]]:
    """Per key: incidents, acknowledged, resolved, mtta_s, mttr_s (sorted by key). Pure."""
    groups: dict[str | None, list[Timing]] = defaultdict(list)
    for x in items:
        groups[x.key].append(x)
    rows = []
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        xs = groups[key]
        acks = [(x.acknowledged_at - x.opened_at).total_seconds() for x in xs if x.acknowledged_at]
        res = [(x.resolved_at - x.opened_at).total_seconds() for x in xs if x.resolved_at]
        rows.append(
            {
                "key": key,
                "incidents": len(xs),
                "acknowledged": len(acks),
                "resolved": len(res),
                "mtta_s": _mean(acks),
                "mttr_s": _mean(res),
            }
        )
    return rows


def _scoped(q: Any, project: str | None) -> Any:
    return q if project is None else q.where(incidents.c.project == project)


def incident_public(row: Any) -> dict[str, Any]:
    opened, acked, resolved = (
        t.aware(row.opened_at),
        t.aware(row.acknowledged_at),
        t.aware(row.resolved_at),
    )
    return {
        "id": row.id,
        "project": row.project,
        "title": row.title,
        "severity": row.severity,
        "state": row.state,
        "rule_id": row.rule_id,
        "lead_alert_id": row.lead_alert_id,
        "prompts": orjson.loads(row.prompts),
        "models": orjson.loads(row.models),
        "escalation_step": row.escalation_step,
        "opened_at": t.iso(opened),
        "acknowledged_at": t.iso(acked),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": t.iso(resolved),
        "tta_s": (acked - opened).total_seconds() if acked else None,
        "ttr_s": (resolved - opened).total_seconds() if resolved else None,
    }


def list_incidents(
    engine: sa.Engine,
    project: str | None,
    states: list[str],
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Incidents opened in [start, end), newest first, each with its alerts' count (one
    query: a correlated count, not one query per incident)."""
    members = (
        sa.select(sa.func.count())
        .where(incident_alerts.c.incident_id == incidents.c.id)
        .scalar_subquery()
    )
    q = _scoped(sa.select(incidents, members.label("alert_count")), project).order_by(
        incidents.c.opened_at.desc()
    )
    if states:
        q = q.where(incidents.c.state.in_(states))
    if start is not None:
        q = q.where(incidents.c.opened_at >= t.naive(start))
    if end is not None:
        q = q.where(incidents.c.opened_at < t.naive(end))
    with engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).all()
    return [{**incident_public(r), "alerts": int(r.alert_count)} for r in rows]


def get_incident(engine: sa.Engine, incident_id: str, project: str | None) -> dict[str, Any]:
    """One incident with its alerts and its timeline (oldest first)."""
    with engine.connect() as conn:
        q = _scoped(sa.select(incidents).where(incidents.c.id == incident_id), project)
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        out = incident_public(row)
        out["alerts"] = [alert_public(a) for a in member_alerts(conn, incident_id)]
        ev = incident_events
        events = conn.execute(
            sa.select(ev).where(ev.c.incident_id == incident_id).order_by(ev.c.at, ev.c.id)
        ).all()
    out["timeline"] = [
        {
            "at": t.iso(e.at),
            "kind": e.kind,
            "alert_id": e.alert_id,
            "channel": e.channel,
            "note": e.note,
            "actor": e.actor,
        }
        for e in events
    ]
    return out


def incident_stats(
    engine: sa.Engine, project: str | None, start: datetime, end: datetime, by: str
) -> list[dict[str, Any]]:
    column = {"rule": incidents.c.rule_id, "severity": incidents.c.severity}.get(
        by, incidents.c.project
    )
    q = _scoped(
        sa.select(
            column.label("key"),
            incidents.c.opened_at,
            incidents.c.acknowledged_at,
            incidents.c.resolved_at,
        ).where(incidents.c.opened_at >= t.naive(start), incidents.c.opened_at < t.naive(end)),
        project,
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return mtta_mttr(
        Timing(r.key, t.aware(r.opened_at), t.aware(r.acknowledged_at), t.aware(r.resolved_at))
        for r in rows
    )
