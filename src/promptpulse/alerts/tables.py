"""Alerting tables in the metadata database (SQLAlchemy Core, SQLite or PostgreSQL).

Kept on their own MetaData and created when the alert service starts. Times are stored as naive
UTC (SQLite has no time zones) and made aware again on the way out (`aware`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

import sqlalchemy as sa

metadata = sa.MetaData()

rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=True),  # NULL: every project (admin)
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # RuleIn as JSON, secrets included
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),  # rule | budget | slo
    sa.Column("source_id", sa.String(32), nullable=False),
    sa.Column("scope_key", sa.String(500), nullable=False),
    sa.Column("project", sa.String(100), nullable=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("alert_type", sa.String(32), nullable=False),
    sa.Column("metric", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # JSON: filters and group value
    sa.Column("labels", sa.Text, nullable=False),  # JSON
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("fired_at", sa.DateTime, nullable=True),
    sa.Column("acknowledged_at", sa.DateTime, nullable=True),
    sa.Column("acknowledged_by", sa.String(200), nullable=True),
    sa.Column("ack_note", sa.Text, nullable=True),
    sa.Column("resolved_at", sa.DateTime, nullable=True),
    sa.Column("resolved_by", sa.String(200), nullable=True),
    sa.Column("notified_at", sa.DateTime, nullable=True),
    sa.Column("evaluated_at", sa.DateTime, nullable=False),
    # One open alert per subject, enforced by the database as well as the evaluator.
    sa.Index(
        "alerts_one_open",
        "source",
        "source_id",
        "scope_key",
        unique=True,
        sqlite_where=sa.text("state != 'resolved'"),
        postgresql_where=sa.text("state != 'resolved'"),
    ),
    sa.Index("alerts_state", "state", "severity"),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # pending firing value acknowledged ...
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
)

silences = sa.Table(
    "alert_silences",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=True),
    sa.Column("matchers", sa.Text, nullable=False),  # JSON
    sa.Column("starts_at", sa.DateTime, nullable=False),
    sa.Column("ends_at", sa.DateTime, nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("alert_id", sa.String(32), nullable=True, index=True),  # NULL: a test send
    sa.Column("project", sa.String(100), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),  # never a secret
    sa.Column("event", sa.String(16), nullable=False),  # firing reminder acknowledged resolved test
    sa.Column("status", sa.String(16), nullable=False),  # pending sent failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=True),
)


def naive(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC).replace(tzinfo=None) if t is not None and t.tzinfo else t


@overload
def aware(t: datetime) -> datetime: ...
@overload
def aware(t: None) -> None: ...
def aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def iso(t: datetime | None) -> str | None:
    t = aware(t)
    return t.isoformat().replace("+00:00", "Z") if t is not None else None
