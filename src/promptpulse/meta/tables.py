"""Every table of the metadata database, on one MetaData (SQLAlchemy Core, SQLite or PostgreSQL).

Features import their tables from `promptpulse.meta` and assume they exist: `MetaDB` brings the
schema to the head of `promptpulse.meta.migrations` when it opens the database. A new table or
column goes here and in a new migration (docs/architecture.md, "Metadata and migrations").

Times of the alerting, budget, SLO and report tables are stored as naive UTC (SQLite has no time
zones; promptpulse.alerts.tables makes them aware again); keys, prices and experiments use
`UTCDateTime`: TIMESTAMP WITH TIME ZONE on PostgreSQL, and aware UTC datetimes in Python on
both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.meta.sealed import SealedSpec

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A time-zone aware column that reads back as an aware UTC datetime on every engine.
    PostgreSQL keeps the instant (timestamptz); SQLite keeps the text without its offset, so
    a value is turned to UTC before it is written and marked UTC when read."""

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)

# ---------------------------------------------------------------- keys and prices

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("project", sa.String(100), nullable=True),  # NULL: an admin key for all projects
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

price_overrides = sa.Table(
    "price_overrides",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("input_per_mtok", sa.Float, nullable=False),
    sa.Column("output_per_mtok", sa.Float, nullable=False),
    sa.Column("cached_input_per_mtok", sa.Float, nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# The price book (migration 7): a project's prices per model, each valid for a period
# [valid_from, valid_to) (NULL: since always / open). Entries of one (project, model) never
# overlap (meta/price_book.py checks it). `price_overrides` above is the version-1 table the
# book replaced; its rows were copied into the book as "since always".
price_entries = sa.Table(
    "price_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(100), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("valid_from", UTCDateTime(), nullable=True),
    sa.Column("valid_to", UTCDateTime(), nullable=True),
    sa.Column("input_per_mtok", sa.Float, nullable=False),
    sa.Column("output_per_mtok", sa.Float, nullable=False),
    sa.Column("cached_input_per_mtok", sa.Float, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Index("ix_price_entries_project_model", "project", "model"),
)

# The audit trail of repricing (migration 7): one row per reprice that wrote costs, requested
# by someone (`actor`: the key's name) or automatic (a new price for unpriced calls).
price_reprices = sa.Table(
    "price_reprices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("automatic", sa.Boolean, nullable=False, default=False),
    sa.Column("project", sa.String(100), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("unpriced_only", sa.Boolean, nullable=False, default=False),
    sa.Column("range_from", UTCDateTime(), nullable=False),
    sa.Column("range_to", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed
    sa.Column("calls", sa.Integer, nullable=False, default=0),
    sa.Column("repriced", sa.Integer, nullable=False, default=0),
    sa.Column("cost_before", sa.Float, nullable=False, default=0.0),
    sa.Column("cost_after", sa.Float, nullable=False, default=0.0),
    sa.Column("per_day", sa.Text, nullable=True),  # JSON list of per (model, day) rows
    sa.Column("error", sa.Text, nullable=True),
)

# ---------------------------------------------------------------- alerting

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=True),  # NULL: every project (admin)
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec", SealedSpec, nullable=False),  # RuleIn as JSON, channel secrets sealed
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

alert_silences = sa.Table(
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

alert_deliveries = sa.Table(
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

# ---------------------------------------------------------------- budgets and SLOs


def _spec_table(name: str) -> sa.Table:
    """Objects kept as a validated JSON spec (promptpulse.alerts.specs.SpecRepo)."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(100), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", SealedSpec, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


budgets = _spec_table("budgets")
slos = _spec_table("slos")

# ---------------------------------------------------------------- experiments

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("hypothesis", sa.Text, nullable=True),
    sa.Column("dimension", sa.String(200), nullable=False),
    sa.Column("variants", sa.Text, nullable=False),  # JSON [{name, value, weight}]
    sa.Column("primary_metric", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(8), nullable=True),
    sa.Column("guardrails", sa.Text, nullable=False),  # JSON [metric]
    sa.Column("mde", sa.Float, nullable=True),
    sa.Column("alpha", sa.Float, nullable=False),
    sa.Column("power", sa.Float, nullable=False),
    sa.Column("start", UTCDateTime(), nullable=False),
    sa.Column("end", UTCDateTime(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("project", "key", name="uq_experiments_project_key"),
)

experiment_exposures = sa.Table(
    "experiment_exposures",
    metadata,
    sa.Column("experiment_id", sa.String(32), primary_key=True),
    sa.Column("unit_id", sa.String(200), primary_key=True),
    sa.Column("variant", sa.String(100), nullable=False),
    sa.Column("first_seen", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- reports and retention

report_schedules = sa.Table(
    "report_schedules",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=True),  # NULL: every project (admin)
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec", SealedSpec, nullable=False),  # ScheduleIn as JSON, channel secrets sealed
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # The end of the last period sent (naive UTC): a period is sent once, across restarts.
    sa.Column("last_period_end", sa.DateTime, nullable=True),
    sa.Column("last_sent_at", sa.DateTime, nullable=True),
    sa.Column("last_result", sa.Text, nullable=True),  # JSON: per channel, status and error
)

retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("raw_days", sa.Integer, nullable=True),  # NULL: the server default
    sa.Column("hourly_days", sa.Integer, nullable=True),
    sa.Column("daily_days", sa.Integer, nullable=True),
)

# ---------------------------------------------------------------- replicas

# Leadership of the periodic jobs among replicas that share a PostgreSQL metadata database
# (promptpulse.meta.lease): the holder renews `expires_at` (the database's clock) every few
# seconds; another replica takes the row over once it has expired.
# The sequence of commits of every replica (promptpulse.meta.changes); PostgreSQL only.
change_sequence = sa.Sequence("change_sequence", metadata=metadata)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("acquired_at", UTCDateTime(), nullable=False),
)

# Custom metrics (promptpulse.meta.custom_metrics): a project's formula over catalog metrics and
# scores, usable wherever a catalog name is. The name is unique per project.
custom_metrics = sa.Table(
    "custom_metrics",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("formula", sa.Text, nullable=False),
    sa.Column("unit", sa.String(32), nullable=False, server_default=""),
    sa.Column("higher_is_better", sa.Boolean, nullable=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- custom dashboards

# A project's own dashboard pages (promptpulse.dashboards): the validated JSON a user exports,
# imports, creates and replaces, kept whole in `body`.
dashboards = sa.Table(
    "dashboards",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the dashboard JSON (DashboardIn)
    sa.Column("created_by", sa.String(32), nullable=True),  # the API key's id
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- change markers

# Annotations (promptpulse.meta.annotations): deployments, config changes, prompt changes and
# notes a project records; shown on charts and offered as likely causes of alerts. Prompt-version
# markers are computed from the calls and never stored here.
annotations_table = sa.Table(
    "annotations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=False),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("prompt_id", sa.String(200), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("environment", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_annotations_project_time", "project", "time"),
)

# ---------------------------------------------------------------- incidents

# Related alerts grouped into one incident (promptpulse.alerts.incidents): same project,
# overlapping in time, sharing a prompt or a model. Times are naive UTC like the alert tables.
incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(100), nullable=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),  # the highest of its alerts'
    sa.Column("state", sa.String(16), nullable=False),  # open acknowledged resolved
    sa.Column("lead_alert_id", sa.String(32), nullable=False),  # the alert that opened it
    sa.Column("rule_id", sa.String(32), nullable=True),  # the lead alert's rule (stats by rule)
    sa.Column("prompts", sa.Text, nullable=False),  # JSON list: prompt_ids of its alerts
    sa.Column("models", sa.Text, nullable=False),  # JSON list: models of its alerts
    sa.Column("escalation_step", sa.Integer, nullable=False),  # escalation steps already sent
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("acknowledged_at", sa.DateTime, nullable=True),
    sa.Column("acknowledged_by", sa.String(200), nullable=True),
    sa.Column("resolved_at", sa.DateTime, nullable=True),
    sa.Index("incidents_state", "state", "project"),
)

incident_alerts = sa.Table(
    "incident_alerts",
    metadata,
    sa.Column("alert_id", sa.String(32), primary_key=True),  # an alert joins one incident
    sa.Column("incident_id", sa.String(32), nullable=False, index=True),
    sa.Column("joined_at", sa.DateTime, nullable=False),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    # opened joined alert_resolved acknowledged resolved notified escalated
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("alert_id", sa.String(32), nullable=True),
    sa.Column("channel", sa.String(300), nullable=True),  # "webhook https://…" (never a secret)
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
)
