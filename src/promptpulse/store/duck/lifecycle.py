"""The data-lifecycle half of DuckStore: answering from rollups, keeping them, retention,
erasure and export batches. A mixin so `store.py` stays about calls; every statement is in
`rollup_sql`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from promptpulse.model import Agg, AggRow, Dimension, Kind, Metric, Op, Scope, base_aggregates
from promptpulse.store import sketch
from promptpulse.store.deadline import in_context
from promptpulse.store.duck import export_sql
from promptpulse.store.duck import rollup_sql as sql
from promptpulse.store.duck.histograms import day_span
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.latest import Latest, LatestCalls, none_from, scan_latest
from promptpulse.store.duck.sketch_lag import SketchLag
from promptpulse.store.duck.sql import Record, aware_utc, py
from promptpulse.store.planned import RollupPlanning
from promptpulse.store.rollup_plan import (
    LEVELS,
    QUANTILE_COLUMNS,
    ROLLUP_DIMENSIONS,
    Piece,
    ceil_to,
    floor_to,
)

log = logging.getLogger("promptpulse.rollups")


@dataclass
class _Distinct:
    """Distinct counts per row key of a rollup-served query: exact (kept users: the whole
    range, or a UTC day as the key's first part) or estimated from HyperLogLog registers."""

    aggs: list[Agg]
    exact: dict[datetime | None, int] | None
    registers: dict[Agg, dict[tuple[Any, ...], dict[int, int]]]

    @property
    def sketched(self) -> bool:
        return bool(self.aggs) and self.exact is None

    def of(self, key: tuple[Any, ...]) -> dict[Agg, Any]:
        if self.exact is not None:
            return {a: self.exact.get(aware_utc(key[0]) if key else None, 0) for a in self.aggs}
        out: dict[Agg, Any] = {}
        for a in self.aggs:
            hll = self.registers[a].get(key)
            out[a] = sketch.hll_estimate_from_histogram(hll) if hll else 0
        return out


class LifecycleMixin(RollupPlanning):
    # What rollups keep: the dimensions they can filter by, and the columns of exported rows.
    rollup_dimensions: tuple[str, ...] = ROLLUP_DIMENSIONS
    rollup_columns: tuple[str, ...] = export_sql.ROLLUP_EXPORT_COLUMNS
    _rollups_mark_approximate = True  # active users may be exact (the users kept per day)
    rollup_min_calls: int
    _horizons: dict[str, datetime]
    _rollup_horizons: dict[tuple[str, str], datetime]
    _maintenance: threading.Lock
    _kept: Callable[[], tuple[KeptSummary[Any, Any], ...]]
    _pool: Any
    _cursor: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    _records: Callable[[str, Sequence[Any]], list[Record]]
    _kept_active_users: Callable[[Scope], int | None]
    _kept_users_by_day: Callable[[Scope], dict[datetime, int] | None]
    _latest_calls: LatestCalls
    _sketch_lag: SketchLag

    # ------------------------------------------------------------ serving

    def _open_end(self, scope: Scope) -> bool:
        """No call of the range's projects is stamped at or after its end: from the newest call
        per project, kept in memory (latest.py). The kept summaries and the rollup plan then
        take the day and the hour the range ends in as whole."""
        projects = scope.filter_values("project")
        return self._latest_calls.read(
            self._scan_latest, lambda kept: none_from(kept, projects, scope.end)
        )

    def _scan_latest(self) -> Latest:
        with self._cursor() as cur:
            return scan_latest(cur)

    def _exact_is_faster(
        self, scope: Scope, metrics: Sequence[Metric], interval: str | None
    ) -> bool:
        """An hourly series whose percentiles the two passes per hour answer (hourly.py) and
        whose active users the bitmaps count (day_users.py): merging the rollups' sketches
        hour by hour is slower than the exact answer (30 days of 10 M calls: requests, p95
        and cost 317 ms from sketches, 111 ms exact; active users 1,212 ms against 258; the
        Overview's series over 7 days 395 ms against 116). Not where retention removed raw
        calls of the range: only the rollups have those."""
        quantiles = {m.column for m in metrics if m.kind is Kind.QUANTILE}
        distinct = {a.arg for m in metrics for a in m.parts if a.op is Op.DISTINCT}
        return (
            interval == "hour"
            and bool(quantiles or distinct)
            and quantiles <= set(QUANTILE_COLUMNS)
            and distinct <= {"user_id"}
            and day_span(scope, "hour") is not None
            and not self.raw_incomplete(scope)
        )

    def _rollup_calls(self, plan: Sequence[Piece], scope: Scope) -> int:
        query, params = sql.calls_in(plan, scope)
        rows = self._records(query, params)
        return int(rows[0]["a0"] or 0) if rows else 0

    def _aggregate_rollups(
        self,
        plan: Sequence[Piece],
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> list[AggRow]:
        aliases = (["t"] if interval else []) + [f"g{i}" for i in range(len(group_by))]
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        aggs = base_aggregates(derived)
        plain = [a for a in aggs if a.op is not Op.DISTINCT]
        plain += [] if Agg(Op.COUNT) in plain else [Agg(Op.COUNT)]  # read below: a sum alone was 0
        distinct = [a for a in aggs if a.op is Op.DISTINCT]
        quantiles: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                quantiles.setdefault(m.column, []).append(m)
        main_sql, main_params = sql.main_query(plan, scope, plain, group_by, interval)
        main = self._pool.submit(in_context(self._records), main_sql, main_params)
        q_futures = {
            column: self._pool.submit(
                in_context(self._records),
                *_quantile_sql(plan, scope, column, [m.q for m in ms], group_by, interval, aliases),
            )
            for column, ms in quantiles.items()
        }
        users = self._rollup_distinct(plan, scope, distinct, group_by, interval, aliases)
        q_by_key = {
            column: {tuple(r[a] for a in aliases): r for r in f.result()}
            for column, f in q_futures.items()
        }
        sketched = bool(quantiles) or users.sketched
        rows: list[AggRow] = []
        for record in main.result():
            key = tuple(record[a] for a in aliases)
            base: dict[Agg, Any] = {a: py(record.get(f"a{i}")) for i, a in enumerate(plain)}
            base.update(users.of(key))
            if not key and base.get(Agg(Op.COUNT)) is None:
                base = {a: (None if a.op is not Op.DISTINCT else 0) for a in aggs}
            values = {m.name: m.value(base) for m in derived}
            for column, ms in quantiles.items():
                found = q_by_key[column].get(key)
                for i, m in enumerate(ms):
                    values[m.name] = _quantile_value(found, i, m.q)
            group = tuple(record[f"g{i}"] for i in range(len(group_by)))
            rows.append(AggRow(values, group, aware_utc(record.get("t")), sketched))
        return rows

    def _rollup_distinct(
        self,
        plan: Sequence[Piece],
        scope: Scope,
        distinct: list[Agg],
        group_by: Sequence[Dimension],
        interval: str | None,
        aliases: list[str],
    ) -> _Distinct:
        """The distinct counts of a rollup-served query: exact from the users kept per day when
        they answer (`_exact_users`), else the HyperLogLog registers of every row key."""
        exact = self._exact_users(scope, distinct, group_by, interval)
        futures = {
            a: self._pool.submit(
                in_context(self._records),
                *_hll_sql(plan, scope, a.arg, group_by, interval, aliases),
            )
            for a in (distinct if exact is None else [])
        }
        registers: dict[Agg, dict[tuple[Any, ...], dict[int, int]]] = {}
        for a, f in futures.items():
            hist = registers.setdefault(a, {})
            for r in f.result():
                hist.setdefault(tuple(r[x] for x in aliases), {})[int(r["n"])] = int(r["c"])
        return _Distinct(distinct, exact, registers)

    def _exact_users(
        self,
        scope: Scope,
        distinct: list[Agg],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> dict[datetime | None, int] | None:
        """Active users from the users kept per UTC day instead of the rollups' sketches, for
        the whole range or per day (t -> users; None: the sketches answer). Exact, and cheaper:
        the sketch rows of a month are millions. Not where retention removed raw calls of the
        range, since the kept users come from the calls."""
        if distinct != [Agg(Op.DISTINCT, "user_id")] or group_by or self.raw_incomplete(scope):
            return None
        if interval is None:
            users = self._kept_active_users(scope)
            return None if users is None else {None: users}
        if interval == "day":
            per_day = self._kept_users_by_day(scope)
            return None if per_day is None else {t: n for t, n in per_day.items()}
        return None

    # ------------------------------------------------------------ maintenance

    def compact_rollups(self, now: datetime, grace: timedelta) -> dict[str, int]:
        """Fold the fragments of buckets closed for at least `grace` (late calls arriving after
        that make new fragments, folded on the next pass)."""
        out = {}
        with self._maintenance, self._cursor() as cur:
            self._sketch_lag.catch_up_alone(cur)  # so that closed hours fold whole
            for level in LEVELS:
                closed = floor_to(now - grace, level)
                out[level] = sql.compact(cur, level, closed)
        return out

    def rebuild_rollups(
        self, start: datetime, end: datetime, project: str | None = None
    ) -> dict[str, int]:
        """Rebuild whole days' rollups from raw calls; never before a project's raw horizon."""
        start, end = floor_to(start, "day"), ceil_to(end, "day")
        with self._maintenance, self._cursor() as cur:
            return sql.rebuild(cur, start, end, project)

    def rollup_stats(self) -> dict[str, Any]:
        """Rows and fragments per rollup table, the raw horizons, and how many calls the
        sketches have not caught up with (sketch_lag.py)."""
        out: dict[str, Any] = {}
        with self._cursor() as cur:
            for level in LEVELS:
                row = cur.execute(
                    f"SELECT count(*), count_if(NOT compacted), min(bucket), max(bucket), "
                    f"sum(a_count) FROM rollup_{level}"
                ).fetchone()
                assert row is not None
                out[level] = {
                    "rows": int(row[0]),
                    "fragments": int(row[1] or 0),
                    "first": _aware(row[2]),
                    "last": _aware(row[3]),
                    "calls": int(row[4] or 0),
                }
            out["raw_horizons"] = {p: c for p, c in self._horizons.items()}
            found = cur.execute(f"SELECT count(*) FROM events WHERE {sql.UNSKETCHED}").fetchall()
            out["unsketched_calls"] = int(found[0][0])  # their sketches not caught up yet
        return out

    # ------------------------------------------------------------ retention and erasure

    def apply_retention(
        self,
        data_class: str,
        before: datetime,
        project: str | None = None,
        keep_projects: Sequence[str] = (),
    ) -> int:
        """Delete one class of data older than `before`: `raw` calls, or `hour`/`day` rollups.
        For one project, or for every project not in `keep_projects` (those have overrides)."""
        with self._maintenance, self._cursor() as cur:
            if data_class == "hour":  # fold old hours into their days before they go
                sql.compact(cur, "hour", before)
            cur.execute("BEGIN TRANSACTION")
            try:
                # Deleted calls must be in the sketches, and deleted rollups must not come back.
                self._sketch_lag.catch_up(cur)
                if data_class == "raw":
                    n = sql.delete_raw(cur, before, project, keep_projects)
                else:
                    n = sql.delete_rollups(cur, data_class, before, project, keep_projects)
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                self._sketch_lag.rolled_back()
                raise
            if data_class == "raw":  # after the commit: a scan before it saw the old calls
                for summary in self._kept():
                    summary.invalidate()
            self._horizons = sql.horizons(cur)
            self._rollup_horizons = sql.rollup_horizons(cur)
        return n

    def erase(self, project: str, user_id: str | None = None) -> dict[str, int]:
        """Delete a project's data, or one user's calls in a project (right to erasure)."""
        with self._maintenance, self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                out, days = sql.erase(cur, project, user_id)
                cur.execute("COMMIT")
                for summary in self._kept():
                    summary.invalidate()
            except Exception:
                cur.execute("ROLLBACK")
                raise
            for day in days:
                start = day.replace(tzinfo=UTC)
                sql.rebuild(cur, start, start + timedelta(days=1), project)
            self._horizons = sql.horizons(cur)
            self._rollup_horizons = sql.rollup_horizons(cur)
        return out

    # ------------------------------------------------------------ exports

    def export_batches(
        self,
        source: str,
        columns: Sequence[str],
        scope: Scope,
        time_column: str = "timestamp",
        batch_rows: int = 50_000,
    ) -> tuple[int, Iterator[Any]]:
        """(rows, record batches) of an export, streamed from a cursor of its own (no query time
        limit: an export may take long; it never holds the whole result in memory)."""
        count_sql, params = export_sql.export_count(source, scope, time_column)
        with self._cursor() as cur:
            row = cur.execute(count_sql, params).fetchone()
        total = int(row[0]) if row else 0
        select, params = export_sql.export_select(source, columns, scope, time_column)
        con: duckdb.DuckDBPyConnection = self._con  # type: ignore[attr-defined]

        def batches() -> Iterator[Any]:
            with self._lock:  # type: ignore[attr-defined]
                cur = con.cursor()
            try:
                reader = cur.sql(select, params=params).to_arrow_reader(batch_rows)
                yield pa.RecordBatch.from_pylist([], schema=reader.schema)  # fixes the schema
                yield from reader
            finally:
                cur.close()

        return total, batches()


def _quantile_sql(
    plan: Sequence[Piece],
    scope: Scope,
    column: str,
    qs: Sequence[float],
    group_by: Sequence[Dimension],
    interval: str | None,
    aliases: Sequence[str],
) -> tuple[str, list[Any]]:
    """Per group: total count and, for each q, the bucket keys of its two closest ranks."""
    merged, params = sql.sketch_query(plan, scope, "q", column, group_by, interval)
    part = f"PARTITION BY {', '.join(aliases)} " if aliases else ""
    cols = "".join(f"{a}, " for a in aliases)
    picks = []
    for i, q in enumerate(qs):
        lo = f"floor((total - 1) * {q!r})"
        picks.append(f"min(k) FILTER (WHERE through > {lo}) AS lo{i}")
        picks.append(f"min(k) FILTER (WHERE through > least({lo} + 1, total - 1)) AS hi{i}")
    group = f" GROUP BY {', '.join(aliases)}" if aliases else ""
    query = (
        f"WITH h AS ({merged}), c AS (SELECT {cols}k, "
        f"sum(n) OVER ({part}ORDER BY k ROWS UNBOUNDED PRECEDING) AS through, "
        f"sum(n) OVER ({part.strip()}) AS total FROM h) "
        f"SELECT {cols}any_value(total) AS total, {', '.join(picks)} FROM c{group}"
    )
    return query, params


def _quantile_value(found: Record | None, i: int, q: float) -> float | None:
    if found is None or not found.get("total"):
        return None
    total = int(found["total"])
    h = (total - 1) * q
    w = h - int(h)
    lo, hi = sketch.value_of([found[f"lo{i}"], found[f"hi{i}"]])  # type: ignore[arg-type]
    return float(lo + w * (hi - lo))


def _hll_sql(
    plan: Sequence[Piece],
    scope: Scope,
    column: str,
    group_by: Sequence[Dimension],
    interval: str | None,
    aliases: Sequence[str],
) -> tuple[str, list[Any]]:
    merged, params = sql.sketch_query(plan, scope, "hll", column, group_by, interval)
    cols = "".join(f"{a}, " for a in aliases)
    return (
        f"SELECT {cols}n, count(*) AS c FROM ({merged}) GROUP BY {cols}n",
        params,
    )


def _aware(t: datetime | None) -> str | None:
    return None if t is None else t.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
