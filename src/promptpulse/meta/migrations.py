"""The numbered migrations of the metadata database.

`MIGRATIONS[n - 1]` brings the schema from version n - 1 to n; `MetaDB` applies the missing ones
in order when it opens the database, each in its own transaction with the version it reaches.
Steps use SQLAlchemy Core only, so that they run on SQLite and PostgreSQL alike.

Version 1 is the baseline: the tables as they were when the migrations began. Databases written
before then carry version 1 however many of the tables they have (each feature created its own
tables when it started), so the baseline, which only creates what is missing, runs again on
those that lack some. The baseline must keep creating the version-1 shape: a later migration
that changes one of its tables first copies that table's version-1 definition here and lists
the copy instead (tests/meta/test_migrations.py compares the baseline with a database of that
time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from promptpulse.meta import tables as t

Migration = Callable[[sa.Connection], None]

BASELINE_TABLES: tuple[sa.Table, ...] = (
    t.schema_version,
    t.api_keys,
    t.price_overrides,
    t.alert_rules,
    t.alerts,
    t.alert_events,
    t.alert_silences,
    t.alert_deliveries,
    t.budgets,
    t.slos,
    t.experiments,
    t.experiment_exposures,
    t.report_schedules,
    t.retention_policies,
)


def baseline(conn: sa.Connection) -> None:
    """Version 1: every table of the time, each created unless it is there already."""
    t.metadata.create_all(conn, tables=list(BASELINE_TABLES), checkfirst=True)


def add_leases(conn: sa.Connection) -> None:
    """Version 2, for replicas sharing PostgreSQL: the lease of the periodic jobs and the
    sequence of commits (a sequence is PostgreSQL's alone: SQLite skips it)."""
    t.leases.create(conn, checkfirst=True)
    t.change_sequence.create(conn, checkfirst=True)


def add_custom_metrics(conn: sa.Connection) -> None:
    """Version 3: a project's custom metrics (formulas over catalog metrics and scores)."""
    t.custom_metrics.create(conn, checkfirst=True)


def add_dashboards(conn: sa.Connection) -> None:
    """Version 4: custom dashboards (their own table, nothing else)."""
    t.dashboards.create(conn, checkfirst=True)


def add_annotations(conn: sa.Connection) -> None:
    """Version 5: change markers a project records (deployments, config, prompts, notes)."""
    t.annotations_table.create(conn, checkfirst=True)


def add_incidents(conn: sa.Connection) -> None:
    """Version 6: incidents (related alerts grouped), their alerts and their timeline."""
    for table in (t.incidents, t.incident_alerts, t.incident_events):
        table.create(conn, checkfirst=True)


def add_price_book(conn: sa.Connection) -> None:
    """Version 7: the effective-dated price book and the audit trail of repricing. The
    overrides of before become entries valid since always (the old table stays, unread)."""
    t.price_entries.create(conn, checkfirst=True)
    t.price_reprices.create(conn, checkfirst=True)
    now = datetime.now(UTC)
    for row in conn.execute(sa.select(t.price_overrides)):
        conn.execute(
            t.price_entries.insert().values(
                project=row.project,
                model=row.model,
                valid_from=None,
                valid_to=None,
                input_per_mtok=row.input_per_mtok,
                output_per_mtok=row.output_per_mtok,
                cached_input_per_mtok=row.cached_input_per_mtok,
                created_at=row.updated_at or now,
                updated_at=row.updated_at or now,
            )
        )


MIGRATIONS: tuple[Migration, ...] = (
    baseline,
    add_leases,
    add_custom_metrics,
    add_dashboards,
    add_annotations,
    add_incidents,
    add_price_book,
)
HEAD = len(MIGRATIONS)


def current_version(conn: sa.Connection) -> int:
    """The version the database has reached; 0 for an empty one."""
    if not sa.inspect(conn).has_table(t.schema_version.name):
        return 0
    found = conn.execute(sa.select(sa.func.max(t.schema_version.c.version))).scalar()
    return int(found or 0)


def pending(conn: sa.Connection) -> list[int]:
    """The numbers of the steps this database needs, in order. The baseline runs again on a
    version-1 database that lacks some of its tables (its stamp predates them, see above)."""
    current = current_version(conn)
    if current == 1:
        present = set(sa.inspect(conn).get_table_names())
        current = 1 if {t.name for t in BASELINE_TABLES} <= present else 0
    return list(range(current + 1, HEAD + 1))


def apply(conn: sa.Connection, number: int) -> None:
    """Run step `number` in the caller's transaction and record it. A step another process has
    applied meanwhile is skipped (the baseline, which checks each table, always runs)."""
    reached = current_version(conn)
    if number > 1 and reached >= number:
        return
    MIGRATIONS[number - 1](conn)
    if reached < number:
        conn.execute(t.schema_version.insert().values(version=number))
