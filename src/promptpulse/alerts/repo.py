"""Reading and writing rules, alerts, their history, silences and deliveries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from promptpulse.alerts import tables as t
from promptpulse.alerts.rules import SCORE_PREFIX, RuleIn
from promptpulse.alerts.state import OPEN_STATES, OpenAlert, Subject
from promptpulse.errors import Invalid, NotFound, invalid
from promptpulse.meta import project_metrics
from promptpulse.model import CATALOG
from promptpulse.notify import keep_secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _json(v: Any) -> str:
    return orjson.dumps(v).decode()


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleRecord:
    id: str
    rule: RuleIn
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.rule.public(),
            "created_at": t.iso(self.created_at),
            "updated_at": t.iso(self.updated_at),
        }


def rule_from(row: Any) -> RuleRecord:
    return RuleRecord(
        row.id,
        RuleIn.model_validate_json(row.spec),
        t.aware(row.created_at),
        t.aware(row.updated_at),
    )


def _spec(rule: RuleIn) -> str:
    return rule.model_dump_json(by_alias=True)


def list_rules(
    engine: sa.Engine, project: str | None = None, enabled_only: bool = False
) -> list[RuleRecord]:
    q = sa.select(t.rules).order_by(t.rules.c.project, t.rules.c.name)
    if project is not None:
        q = q.where(t.rules.c.project == project)
    if enabled_only:
        q = q.where(t.rules.c.enabled.is_(True))
    with engine.connect() as conn:
        return [rule_from(r) for r in conn.execute(q)]


def get_rule(engine: sa.Engine, rule_id: str, project: str | None = None) -> RuleRecord:
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.rules).where(t.rules.c.id == rule_id)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no alert rule {rule_id}")
    return rule_from(row)


def find_rule(engine: sa.Engine, project: str | None, name: str) -> RuleRecord | None:
    q = sa.select(t.rules).where(t.rules.c.name == name)
    q = q.where(t.rules.c.project.is_(None) if project is None else t.rules.c.project == project)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    return rule_from(row) if row else None


def check_custom_metric(engine: sa.Engine, rule: RuleIn) -> None:
    """A metric that is neither the catalog's nor a score must be a custom metric of the rule's
    one project."""
    name = rule.metric or ""
    if name in CATALOG or name.startswith(SCORE_PREFIX):
        return
    if rule.project is None:
        raise invalid(
            "metric",
            f"unknown metric '{name}'; see /v1/metrics/catalog, or score.<name> (a custom "
            "metric needs a rule of one project: filters.project)",
        )
    if name not in project_metrics(engine, rule.project):
        raise invalid(
            "metric",
            f"unknown metric '{name}' in project '{rule.project}'; see "
            "/v1/metrics/catalog, or score.<name>",
        )


def create_rule(engine: sa.Engine, rule: RuleIn, now: datetime) -> RuleRecord:
    if find_rule(engine, rule.project, rule.name) is not None:
        raise invalid("name", f"a rule named '{rule.name}' already exists in this project")
    check_custom_metric(engine, rule)
    _check_no_masks(rule)
    rid = new_id("rule")
    with engine.begin() as conn:
        conn.execute(
            t.rules.insert().values(
                id=rid,
                project=rule.project,
                name=rule.name,
                spec=_spec(rule),
                enabled=rule.enabled,
                created_at=t.naive(now),
                updated_at=t.naive(now),
            )
        )
    return RuleRecord(rid, rule, now, now)


def update_rule(
    engine: sa.Engine, rule_id: str, rule: RuleIn, now: datetime, project: str | None = None
) -> RuleRecord:
    old = get_rule(engine, rule_id, project)
    check_custom_metric(engine, rule)
    other = find_rule(engine, rule.project, rule.name)
    if other is not None and other.id != rule_id:
        raise invalid("name", f"a rule named '{rule.name}' already exists in this project")
    try:
        channels = keep_secrets(rule.channels, old.rule.channels)
    except ValueError as exc:
        raise invalid("channels", str(exc)) from None
    rule = rule.model_copy(update={"channels": channels, "escalation": _keep_steps(rule, old)})
    with engine.begin() as conn:
        conn.execute(
            t.rules.update()
            .where(t.rules.c.id == rule_id)
            .values(
                project=rule.project,
                name=rule.name,
                spec=_spec(rule),
                enabled=rule.enabled,
                updated_at=t.naive(now),
            )
        )
    return RuleRecord(rule_id, rule, old.created_at, now)


def _check_no_masks(rule: RuleIn) -> None:
    try:
        keep_secrets(rule.channels, [])
    except ValueError as exc:
        raise invalid("channels", str(exc)) from None
    _keep_steps(rule, None)


def _keep_steps(rule: RuleIn, old: RuleRecord | None) -> list[Any]:
    """Escalation channels sent back masked keep the stored secrets of the same step."""
    before = old.rule.escalation if old is not None else []
    out = []
    for i, step in enumerate(rule.escalation):
        prev = before[i].channels if i < len(before) else []
        try:
            out.append(step.model_copy(update={"channels": keep_secrets(step.channels, prev)}))
        except ValueError as exc:
            raise invalid(f"escalation[{i}].channels", str(exc)) from None
    return out


def delete_rule(engine: sa.Engine, rule_id: str, project: str | None = None) -> None:
    get_rule(engine, rule_id, project)
    with engine.begin() as conn:
        conn.execute(t.rules.delete().where(t.rules.c.id == rule_id))


# ---------------------------------------------------------------- alerts


def open_alerts(
    engine: sa.Engine, project: str | None = None
) -> dict[tuple[str, str, str], OpenAlert]:
    q = sa.select(t.alerts).where(t.alerts.c.state.in_(OPEN_STATES))
    if project is not None:
        q = q.where(t.alerts.c.project == project)
    with engine.connect() as conn:
        return {
            (r.source, r.source_id, r.scope_key): OpenAlert(
                r.id, r.state, t.aware(r.started_at), t.aware(r.fired_at), t.aware(r.notified_at)
            )
            for r in conn.execute(q)
        }  # type: ignore[misc]


def open_alert(
    conn: sa.Connection,
    subject: Subject,
    now: datetime,
    state: str,
    value: float | None,
    threshold: float | None,
    reason: str,
) -> str:
    aid = new_id("alert")
    conn.execute(
        t.alerts.insert().values(
            id=aid,
            source=subject.source,
            source_id=subject.source_id,
            scope_key=subject.scope_key,
            project=subject.project,
            name=subject.name,
            alert_type=subject.alert_type,
            metric=subject.metric,
            severity=subject.severity,
            state=state,
            scope=_json(subject.scope),
            labels=_json(dict(subject.labels)),
            value=value,
            threshold=threshold,
            reason=reason,
            started_at=t.naive(now),
            fired_at=t.naive(now) if state == "firing" else None,
            evaluated_at=t.naive(now),
        )
    )
    return aid


def update_alert(conn: sa.Connection, alert_id: str, **values: Any) -> None:
    clean = {k: t.naive(v) if isinstance(v, datetime) else v for k, v in values.items()}
    conn.execute(t.alerts.update().where(t.alerts.c.id == alert_id).values(**clean))


def add_event(
    conn: sa.Connection,
    alert_id: str,
    at: datetime,
    kind: str,
    value: float | None = None,
    threshold: float | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    conn.execute(
        t.alert_events.insert().values(
            alert_id=alert_id,
            at=t.naive(at),
            kind=kind,
            value=value,
            threshold=threshold,
            note=note,
            actor=actor,
        )
    )


def alert_public(row: Any) -> dict[str, Any]:
    from promptpulse.notify import PRIORITY

    return {
        "id": row.id,
        "state": row.state,
        "severity": row.severity,
        "priority": PRIORITY.get(row.severity),
        "name": row.name,
        "source": row.source,
        "source_id": row.source_id,
        "alert_type": row.alert_type,
        "metric": row.metric,
        "project": row.project,
        "scope": orjson.loads(row.scope),
        "labels": orjson.loads(row.labels),
        "value": row.value,
        "threshold": row.threshold,
        "reason": row.reason,
        "started_at": t.iso(row.started_at),
        "fired_at": t.iso(row.fired_at),
        "acknowledged_at": t.iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "ack_note": row.ack_note,
        "resolved_at": t.iso(row.resolved_at),
        "resolved_by": row.resolved_by,
        "notified_at": t.iso(row.notified_at),
        "evaluated_at": t.iso(row.evaluated_at),
    }


def list_alerts(
    engine: sa.Engine,
    project: str | None,
    states: list[str],
    severities: list[str],
    source_id: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    q = sa.select(t.alerts).order_by(t.alerts.c.started_at.desc()).limit(limit)
    if project is not None:
        q = q.where(t.alerts.c.project == project)
    if states:
        q = q.where(t.alerts.c.state.in_(states))
    if severities:
        q = q.where(t.alerts.c.severity.in_(severities))
    if source_id:
        q = q.where(t.alerts.c.source_id == source_id)
    with engine.connect() as conn:
        return [alert_public(r) for r in conn.execute(q)]


def get_alert_row(conn: sa.Connection, alert_id: str, project: str | None) -> Any:
    row = conn.execute(sa.select(t.alerts).where(t.alerts.c.id == alert_id)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no alert {alert_id}")
    return row


def alert_history(engine: sa.Engine, alert_id: str) -> list[dict[str, Any]]:
    q = sa.select(t.alert_events).where(t.alert_events.c.alert_id == alert_id)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(t.alert_events.c.id)).all()
    return [
        {
            "at": t.iso(r.at),
            "kind": r.kind,
            "value": r.value,
            "threshold": r.threshold,
            "note": r.note,
            "actor": r.actor,
        }
        for r in rows
    ]


# ---------------------------------------------------------------- silences


@dataclass(frozen=True)
class Silence:
    id: str
    project: str | None
    matchers: dict[str, Any]  # rule_id, source_id, severity, name, labels{}, scope{}
    starts_at: datetime
    ends_at: datetime
    comment: str | None
    created_by: str | None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, subject: Subject) -> bool:
        if self.project is not None and subject.project != self.project:
            return False
        m = self.matchers
        if m.get("source_id") and m["source_id"] != subject.source_id:
            return False
        if m.get("rule_id") and m["rule_id"] != subject.source_id:
            return False
        if m.get("severity") and m["severity"] != subject.severity:
            return False
        if m.get("name") and m["name"] != subject.name:
            return False
        labels = dict(subject.labels)
        if any(labels.get(k) != v for k, v in (m.get("labels") or {}).items()):
            return False
        scope = subject.scope.get("group") or {}
        return all(scope.get(k) == v for k, v in (m.get("scope") or {}).items())

    def public(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "matchers": self.matchers,
            "starts_at": t.iso(self.starts_at),
            "ends_at": t.iso(self.ends_at),
            "comment": self.comment,
            "created_by": self.created_by,
            "active": self.active(now),
        }


def _silence_from(r: Any) -> Silence:
    return Silence(
        r.id,
        r.project,
        orjson.loads(r.matchers),
        t.aware(r.starts_at),
        t.aware(r.ends_at),
        r.comment,
        r.created_by,
    )  # type: ignore[arg-type]


def create_silence(
    engine: sa.Engine,
    project: str | None,
    matchers: dict[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    comment: str | None,
    created_by: str | None,
    now: datetime,
) -> Silence:
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at")
    sid = new_id("sil")
    with engine.begin() as conn:
        conn.execute(
            t.silences.insert().values(
                id=sid,
                project=project,
                matchers=_json(matchers),
                starts_at=t.naive(starts_at),
                ends_at=t.naive(ends_at),
                comment=comment,
                created_by=created_by,
                created_at=t.naive(now),
            )
        )
    return Silence(sid, project, matchers, starts_at, ends_at, comment, created_by)


def list_silences(engine: sa.Engine, project: str | None = None) -> list[Silence]:
    q = sa.select(t.silences).order_by(t.silences.c.starts_at.desc())
    if project is not None:
        q = q.where(t.silences.c.project == project)
    with engine.connect() as conn:
        return [_silence_from(r) for r in conn.execute(q)]


def delete_silence(engine: sa.Engine, silence_id: str, project: str | None) -> None:
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.silences).where(t.silences.c.id == silence_id)).first()
        if row is None or (project is not None and row.project != project):
            raise NotFound(f"no silence {silence_id}")
        conn.execute(t.silences.delete().where(t.silences.c.id == silence_id))


# ---------------------------------------------------------------- deliveries


def list_deliveries(
    engine: sa.Engine, project: str | None, alert_id: str | None, limit: int
) -> list[dict[str, Any]]:
    q = sa.select(t.deliveries).order_by(t.deliveries.c.created_at.desc()).limit(limit)
    if project is not None:
        q = q.where(t.deliveries.c.project == project)
    if alert_id is not None:
        q = q.where(t.deliveries.c.alert_id == alert_id)
    with engine.connect() as conn:
        return [
            {
                "id": r.id,
                "alert_id": r.alert_id,
                "channel": r.channel,
                "target": r.target,
                "event": r.event,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "response_status": r.response_status,
                "created_at": t.iso(r.created_at),
                "sent_at": t.iso(r.sent_at),
            }
            for r in conn.execute(q)
        ]
