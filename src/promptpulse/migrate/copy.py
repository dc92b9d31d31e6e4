"""Copying one PromptPulse installation into another, resumable and verified.

Metadata first (every table but the schema version and the replicas' leases; rows already there
are kept, so a second run adds only what is missing), then calls and scores month by month
through the target's single writer (its idempotency makes a month copied twice count once: a
crash half-way is resumed by running the same command again), then the rollups that outlived
their raw calls, then a verification of counts and sums per project on both sides, and per
project and day (what rollups answer). The target builds its own rollups from the calls it
receives (ClickHouse's materialized views fill them as the calls arrive); but where retention
deleted the source's raw calls, its rollups are all that is left of them: those buckets (every
bucket starting before a project's raw horizon) are carried over as they are, replacing what the
target had there, and the target records the same horizons, so its long-range figures equal the
source's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta import tables as meta_tables
from promptpulse.model import CALL_SCHEMA, CATALOG, SCORE_SCHEMA, Dimension, Metric, Scope
from promptpulse.model.bounds import TIME_CEILING, TIME_FLOOR
from promptpulse.store import Store

SKIPPED_TABLES = ("schema_version", "leases")  # each database keeps its own
CHECKED_METRICS = ("requests", "errors", "cost_usd", "input_tokens", "output_tokens")


@dataclass
class MigrationReport:
    metadata_rows: dict[str, int] = field(default_factory=dict)  # table -> rows added
    calls: int = 0  # calls written to the target (not counting ones it already held)
    scores: int = 0
    rollup_rows: int = 0  # rollup rows carried from before the source's raw horizons
    months: list[str] = field(default_factory=list)  # months copied in this run
    mismatches: list[str] = field(default_factory=list)  # what verification found different
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.mismatches


@dataclass
class Migration:
    """From (store, meta) to (store, meta). `progress` is a JSON file naming the months already
    copied, so a resumed run skips them (a month cut short is copied again, harmlessly)."""

    source: Store
    source_meta: MetaDB
    target: Store
    target_meta: MetaDB
    progress: Path
    say: Callable[[str], None] = lambda _: None
    report: MigrationReport = field(default_factory=MigrationReport)

    def run(self) -> MigrationReport:
        self.copy_metadata()
        self.copy_events()
        self.copy_old_rollups()
        self.verify()
        return self.report

    # ------------------------------------------------------------------ metadata
    def copy_metadata(self) -> None:
        for table in meta_tables.metadata.sorted_tables:  # parents before children
            if table.name in SKIPPED_TABLES:
                continue
            added = _copy_table(table, self.source_meta.engine, self.target_meta.engine)
            self.report.metadata_rows[table.name] = added
            self.say(f"metadata: {table.name}: {added} rows added")

    # ------------------------------------------------------------------ calls and scores
    def copy_events(self) -> None:
        done = self._done_months()
        writer = Writer(self.target)
        writer.start()
        try:
            for month_start, month_end in _months(self.source):
                name = month_start.strftime("%Y-%m")
                if name in done:
                    continue
                scope = Scope(month_start, month_end)
                self.report.calls += _copy(self.source, writer, "calls", scope, "timestamp")
                self.report.months.append(name)
                done.add(name)
                self._save_months(done)
                self.say(f"calls: {name} copied")
            # Scores are few next to calls: all of them in one pass, after their calls.
            everything = Scope(TIME_FLOOR, TIME_CEILING)
            self.report.scores += _copy(self.source, writer, "scores", everything, "received_at")
        finally:
            writer.stop()

    def copy_old_rollups(self) -> None:
        """After the calls (their buckets cut by a horizon get the source's rows, which hold
        the calls before it too); each run replaces what the previous one carried."""
        horizons, rows = self.source.old_rollups()
        if not horizons:
            return
        self.report.rollup_rows = self.target.restore_old_rollups(horizons, rows)
        cuts = ", ".join(f"{p} before {c:%Y-%m-%d %H:%M}" for p, c in sorted(horizons.items()))
        self.say(f"rollups: {self.report.rollup_rows} rows carried ({cuts}: rollups only)")

    def _done_months(self) -> set[str]:
        if not self.progress.exists():
            return set()
        return set(json.loads(self.progress.read_text()).get("months", []))

    def _save_months(self, months: set[str]) -> None:
        tmp = self.progress.with_suffix(".tmp")
        tmp.write_text(json.dumps({"months": sorted(months)}))
        tmp.replace(self.progress)  # atomic: a crash leaves the old list or the new one

    # ------------------------------------------------------------------ verification
    def verify(self) -> None:
        """Counts and sums per project, and scores per name, equal on both sides."""
        scope = Scope(TIME_FLOOR, TIME_CEILING)
        metrics = [CATALOG[m] for m in CHECKED_METRICS]
        by_project = [Dimension("project")]
        want = {r.group: r.values for r in self.source.aggregate(scope, metrics, by_project)}
        got = {r.group: r.values for r in self.target.aggregate(scope, metrics, by_project)}
        for project in sorted(set(want) | set(got), key=str):
            for m in CHECKED_METRICS:
                a, b = want.get(project, {}).get(m), got.get(project, {}).get(m)
                if not _same(a, b):
                    self.report.mismatches.append(f"{project}: {m} {a} in the source, {b} now")
        self._verify_days(scope, metrics)
        a_scores, b_scores = self.source.score_summary(scope), self.target.score_summary(scope)
        for name in sorted(set(a_scores) | set(b_scores)):
            a_n, b_n = a_scores.get(name, {}).get("count"), b_scores.get(name, {}).get("count")
            if a_n != b_n:
                self.report.mismatches.append(f"score {name}: {a_n} in the source, {b_n} now")

    def _verify_days(self, scope: Scope, metrics: list[Metric]) -> None:
        """Per project and day, as the stores answer long ranges (rollups wherever they may,
        and only rollups before a raw horizon): the carried rollups' counts and sums."""
        by_project = [Dimension("project")]

        def days(store: Store) -> dict[tuple[object, object], dict[str, object]]:
            rows = store.aggregate(scope, metrics, by_project, "day", allow_approximate=True)
            return {(r.group, r.t): r.values for r in rows if r.values.get("requests")}

        want, got = days(self.source), days(self.target)
        for key in sorted(set(want) | set(got), key=str):
            for m in CHECKED_METRICS:
                a, b = want.get(key, {}).get(m), got.get(key, {}).get(m)
                if not _same(a, b):
                    project, day = key
                    self.report.mismatches.append(
                        f"{project} on {day:%Y-%m-%d}: {m} {a} in the source, {b} now"
                        if isinstance(day, datetime)
                        else f"{project}: {m} {a} / {b}"
                    )


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def _months(store: Store) -> Iterator[tuple[datetime, datetime]]:
    """The calendar months (UTC) that hold calls, oldest first."""
    scope = Scope(TIME_FLOOR, TIME_CEILING)
    rows = store.aggregate(scope, [CATALOG["requests"]], interval="month")
    for r in sorted(rows, key=lambda r: r.t or TIME_FLOOR):
        if r.t is None or not r.values.get("requests"):
            continue
        start = r.t.astimezone(UTC)
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        yield start, end


def _copy(source: Store, writer: Writer, kind: str, scope: Scope, time_column: str) -> int:
    """Rows of one export source written through the target's writer; rows it stored."""
    schema = CALL_SCHEMA if kind == "calls" else SCORE_SCHEMA
    _, batches = source.export_batches(kind, schema.names, scope, time_column)
    stored = 0
    for batch in batches:
        if batch.num_rows:
            table = pa.Table.from_batches([batch]).cast(schema)
            stored += writer.write_sync("events" if kind == "calls" else "scores", table).accepted
    return stored


def _copy_table(table: sa.Table, source: sa.Engine, target: sa.Engine) -> int:
    """Rows of `table` the target lacks (by primary key), inserted; how many."""
    key = [c.name for c in table.primary_key.columns]
    with source.connect() as src:
        rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
    if not rows:
        return 0
    with target.begin() as dst:
        have = {tuple(r) for r in dst.execute(sa.select(*(table.c[k] for k in key)))}
        new = [r for r in rows if tuple(r[k] for k in key) not in have]
        if new:
            dst.execute(table.insert(), new)
        _advance_sequences(dst, table)
    return len(new)


def _advance_sequences(conn: sa.Connection, table: sa.Table) -> None:
    """After rows with explicit integer ids, PostgreSQL's serial sequence must be past them."""
    if conn.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if column.autoincrement is True and isinstance(column.type, sa.Integer):
            conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
            ))  # fmt: skip
