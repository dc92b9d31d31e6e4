"""The data-lifecycle half of ClickStore: answering from rollups, keeping them, retention,
erasure and export batches. A mixin so `store.py` stays about calls; the rollup statements are
in `rollup_sql`. Sketch maths (DDSketch keys, HyperLogLog registers) is `store.sketch`, the same
as the DuckDB store's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from promptpulse.model import Agg, AggRow, Dimension, Kind, Metric, Op, Scope, base_aggregates
from promptpulse.store import sketch
from promptpulse.store.click import rollup_sql as sql
from promptpulse.store.click.export_sql import export_select, plain
from promptpulse.store.click.schema import Layout
from promptpulse.store.click.sql import (
    EVENTS,
    Params,
    Record,
    aware_utc,
    py,
)
from promptpulse.store.planned import RollupPlanning
from promptpulse.store.rollup_plan import (
    LEVELS,
    ROLLUP_DIMENSIONS,
    Piece,
    ceil_to,
    floor_to,
)

log = logging.getLogger("promptpulse.rollups")


class LifecycleMixin(RollupPlanning):
    rollup_dimensions: tuple[str, ...] = ROLLUP_DIMENSIONS
    rollup_columns: tuple[str, ...] = sql.ROLLUP_EXPORT_COLUMNS
    rollup_min_calls: int
    layout: Layout
    _horizons: dict[str, datetime]
    _rollup_horizons: dict[tuple[str, str], datetime]
    _maintenance: threading.Lock
    _client: Any
    _records: Callable[..., list[Record]]
    _arrow: Callable[..., pa.Table]
    _command: Callable[..., None]

    # ------------------------------------------------------------ serving

    def _rollup_calls(self, plan: Sequence[Piece], scope: Scope) -> int:
        params = Params()
        rollup = [p for p in plan if p.source != "raw"]
        rows = self._records(
            sql.main_query(rollup, scope, params, [Agg(Op.COUNT)], (), None), params
        )
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
        distinct = [a for a in aggs if a.op is Op.DISTINCT]
        quantiles: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                quantiles.setdefault(m.column, []).append(m)
        params = Params()
        main = self._records(sql.main_query(plan, scope, params, plain, group_by, interval), params)
        q_values = {
            column: self._sketch_values(plan, scope, "q", column, group_by, interval, aliases, ms)
            for column, ms in quantiles.items()
        }
        d_values = {
            a: self._sketch_values(plan, scope, "hll", a.arg, group_by, interval, aliases, [])
            for a in distinct
        }
        rows: list[AggRow] = []
        for record in main:
            key = tuple(_key(record[a]) for a in aliases)
            base: dict[Agg, Any] = {a: py(record.get(f"a{i}")) for i, a in enumerate(plain)}
            for a in distinct:
                base[a] = d_values[a].get(key, 0)
            if not key and not record.get("fragments"):  # no piece holds a call
                base = {a: (None if a.op is not Op.DISTINCT else 0) for a in aggs}
            values = {m.name: m.value(base) for m in derived}
            for column, ms in quantiles.items():
                found = q_values[column].get(key)
                for i, m in enumerate(ms):
                    values[m.name] = None if found is None else float(found[i])
            group = tuple(record[f"g{i}"] for i in range(len(group_by)))
            rows.append(AggRow(values, group, aware_utc(record.get("t"))))
        return rows

    def _sketch_values(
        self,
        plan: Sequence[Piece],
        scope: Scope,
        kind: str,
        column: str,
        group_by: Sequence[Dimension],
        interval: str | None,
        aliases: Sequence[str],
        ms: Sequence[Metric],
    ) -> dict[tuple[Any, ...], Any]:
        """Per group: the percentiles `ms` (kind "q") or the distinct count (kind "hll"). The
        engine reduces the merged sketch rows to what the maths needs: for percentiles the
        bucket keys of the two ranks around each q, for HyperLogLog a histogram of ranks."""
        params = Params()
        merged = sql.sketch_query(plan, scope, params, kind, column, group_by, interval)
        cols = "".join(f"{a}, " for a in aliases)
        if kind == "hll":
            query = f"SELECT {cols}n, count() AS c FROM ({merged}) GROUP BY {cols}n"
            hists: dict[tuple[Any, ...], dict[int, int]] = {}
            for r in self._records(query, params):
                key = tuple(_key(r[a]) for a in aliases)
                hists.setdefault(key, {})[int(r["n"])] = int(r["c"])
            return {k: sketch.hll_estimate_from_histogram(h) for k, h in hists.items()}
        part = f"PARTITION BY {', '.join(aliases)} " if aliases else ""
        picks = []
        for i, m in enumerate(ms):
            lo = f"toInt64(floor((toInt64(total) - 1) * {m.q!r}))"
            picks.append(f"minIf(k, through > {lo}) AS lo{i}")
            picks.append(f"minIf(k, through > least({lo} + 1, toInt64(total) - 1)) AS hi{i}")
        group = f" GROUP BY {', '.join(aliases)}" if aliases else ""
        query = (
            f"SELECT {cols}any(total) AS n_total, {', '.join(picks)} FROM (SELECT {cols}k, "
            f"sum(n) OVER ({part}ORDER BY k ROWS UNBOUNDED PRECEDING) AS through, "
            f"sum(n) OVER ({part.strip()}) AS total FROM ({merged})){group}"
        )
        out: dict[tuple[Any, ...], Any] = {}
        for r in self._records(query, params):
            if not r["n_total"]:
                continue
            total = int(r["n_total"])
            values = []
            for i, m in enumerate(ms):
                h = (total - 1) * m.q
                w = h - int(h)
                lo, hi = sketch.value_of(np.array([r[f"lo{i}"], r[f"hi{i}"]], dtype=np.int64))
                values.append(float(lo + w * (hi - lo)))
            out[tuple(_key(r[a]) for a in aliases)] = values
        return out

    # ------------------------------------------------------------ maintenance

    def compact_rollups(self, now: datetime, grace: timedelta) -> dict[str, int]:
        """Fold the fragments of buckets closed for at least `grace`: ClickHouse merges them in
        the background; this makes it happen now (OPTIMIZE ... FINAL of the partitions that hold
        closed buckets with fragments). First it heals closed days that received calls: a copy
        of a call that two replicas inserted at the same moment is one call in raw (FINAL) but
        the views summarised it twice. Returns buckets folded per level."""
        out = {}
        with self._maintenance:
            miscounted: dict[str, list[datetime]] = {}
            for day, project in self._miscounted(floor_to(now - grace, "day")):
                miscounted.setdefault(project, []).append(day)
            for project, days in miscounted.items():
                log.info("rollups of %s on %s did not match raw calls: rebuilt", project, days)
                self._rebuild(min(days), max(days) + timedelta(days=1), project, days)
            for level in LEVELS:
                out[level] = self._optimize_closed(level, floor_to(now - grace, level))
        return out

    def _miscounted(self, closed: datetime) -> list[tuple[datetime, str]]:
        """(day, project) of the closed days that received calls since the last pass (the view
        into `rollup_touched` notes them) whose rollups count other calls than raw, where raw
        calls are complete; the notes read are then cleared."""
        params = Params()
        checked_at = self._records("SELECT now64(6) AS t")[0]["t"]
        before = params.time(closed)
        touched = f"SELECT DISTINCT day, project FROM rollup_touched WHERE day < {before}"
        rows = self._records(
            f"SELECT day, project, sum(raw) AS raw, sum(rolled) AS rolled FROM ("
            f"SELECT toDateTime64(toStartOfDay(timestamp), 0, 'UTC') AS day, project, "
            f"count() AS raw, toUInt64(0) AS rolled FROM {EVENTS} "
            f"WHERE (toDateTime64(toStartOfDay(timestamp), 0, 'UTC'), project) IN ({touched}) "
            f"GROUP BY day, project UNION ALL "
            f"SELECT bucket AS day, assumeNotNull(project) AS project, toUInt64(0) AS raw, "
            f"sum(a_count) AS rolled FROM rollup_day WHERE (bucket, assumeNotNull(project)) IN "
            f"({touched}) GROUP BY day, project) GROUP BY day, project HAVING raw != rolled",
            params,
        )
        done = params.add(checked_at.strftime("%Y-%m-%d %H:%M:%S.%f"), "DateTime64(6, 'UTC')")
        self._delete("rollup_touched", f"day < {before} AND last <= {done}", params)
        out = []
        for r in rows:
            day, project = _utc(r["day"]), str(r["project"])
            cut = self._horizons.get(project)
            deleted = self._rollup_horizons.get(("day", project))  # by rollup retention
            if (cut is None or day >= cut) and (deleted is None or day >= deleted):
                out.append((day, project))
        return sorted(out)

    def _optimize_closed(self, level: str, closed: datetime) -> int:
        params = Params()
        rows = self._records(
            f"SELECT toYYYYMM(bucket) AS part, uniqExact(bucket) AS buckets FROM "
            f"(SELECT bucket FROM rollup_{level} WHERE bucket < {params.time(closed)} "
            f"GROUP BY bucket, {sql.DIMS} HAVING count() > 1) GROUP BY part",
            params,
        )
        for r in rows:
            for t in sql.tables(level):
                self._command(
                    f"OPTIMIZE TABLE {self.layout.local(t)}{self.layout.on} "
                    f"PARTITION {int(r['part'])} FINAL"
                )
        return sum(int(r["buckets"]) for r in rows)

    def rebuild_rollups(
        self, start: datetime, end: datetime, project: str | None = None
    ) -> dict[str, int]:
        """Rebuild whole days' rollups from raw calls; never before a project's raw horizon."""
        start, end = floor_to(start, "day"), ceil_to(end, "day")
        with self._maintenance:
            return self._rebuild(start, end, project)

    def _rebuild(
        self,
        start: datetime,
        end: datetime,
        project: str | None,
        days: Sequence[datetime] | None = None,
    ) -> dict[str, int]:
        """Rebuild [start, end) (only `days` of it when given: one statement per table for
        any number of days, as erasure and healing need)."""
        if project is None:
            params = Params()
            lo, hi = params.time(start), params.time(end)
            found = self._records(
                f"SELECT DISTINCT project AS p FROM {EVENTS} WHERE timestamp >= {lo} AND "
                f"timestamp < {hi} UNION DISTINCT SELECT DISTINCT project AS p FROM rollup_day "
                f"WHERE bucket >= {lo} AND bucket < {hi}",
                params,
            )
            projects = sorted(str(r["p"]) for r in found)
        else:
            projects = [project]
        done: dict[str, int] = {}
        for p in projects:
            lo_t = max(start, self._horizons[p]) if p in self._horizons else start
            if lo_t >= end:
                continue
            for level in LEVELS:
                # A bucket the raw horizon cuts through keeps its rollups: they still hold the
                # calls before the horizon, which raw no longer has.
                params = Params()
                where = (
                    f"project = {params.text(p)} AND bucket >= "
                    f"{params.time(ceil_to(lo_t, level))} AND bucket < {params.time(end)}"
                )
                if days is not None:
                    dates = sorted({d.date().isoformat() for d in days})
                    where += f" AND toDate(bucket) IN {params.add(dates, 'Array(Date)')}"
                for t in sql.tables(level):
                    self._delete(t, where, params)
                raw = where.replace("bucket", "timestamp")
                for target, select in sql.build_selects(level, EVENTS, raw):
                    self._command(f"INSERT INTO {target} {select}", params)
            params = Params()
            n = self._records(
                f"SELECT count() AS n FROM {EVENTS} WHERE project = {params.text(p)} AND "
                f"timestamp >= {params.time(lo_t)} AND timestamp < {params.time(end)}",
                params,
            )
            done[p] = int(n[0]["n"])
        return done

    def rollup_stats(self) -> dict[str, Any]:
        """Rows and fragments (rows not merged yet) per rollup table, and the raw horizons."""
        out: dict[str, Any] = {}
        for level in LEVELS:
            row = self._records(
                f"SELECT count() AS r, uniqExact(tuple(bucket, {sql.DIMS})) AS k, "
                f"min(bucket) AS lo, max(bucket) AS hi, sum(a_count) AS n FROM rollup_{level}"
            )[0]
            rows = int(row["r"])
            out[level] = {
                "rows": rows,
                "fragments": rows - int(row["k"]) if rows else 0,
                "first": _iso(row["lo"]) if rows else None,
                "last": _iso(row["hi"]) if rows else None,
                "calls": int(row["n"] or 0),
            }
        out["raw_horizons"] = dict(self._horizons)
        out["unsketched_calls"] = 0  # sketches are written with the calls here
        return out

    # ------------------------------------------------------------ retention and erasure

    def _delete(self, table: str, where: str, params: Params) -> None:
        """A lightweight DELETE where the rows are (the local tables in cluster mode)."""
        self._command(
            f"DELETE FROM {self.layout.local(table)}{self.layout.on} WHERE {where}", params
        )

    def _load_horizons(self) -> None:
        raw = self._records("SELECT project, max(cutoff) AS c FROM raw_horizon GROUP BY project")
        self._horizons = {r["project"]: _utc(r["c"]) for r in raw}
        rollup = self._records(
            "SELECT level, project, max(cutoff) AS c FROM rollup_horizon GROUP BY level, project"
        )
        self._rollup_horizons = {(r["level"], r["project"]): _utc(r["c"]) for r in rollup}

    def apply_retention(
        self,
        data_class: str,
        before: datetime,
        project: str | None = None,
        keep_projects: Sequence[str] = (),
    ) -> int:
        """Delete one class of data older than `before`: `raw` calls, or `hour`/`day` rollups.
        For one project, or for every project not in `keep_projects` (those have overrides).
        The horizon is recorded first: a crash between the two leaves calls that a rerun
        deletes, never a hole the horizon does not mark."""
        if data_class not in ("raw", *LEVELS):
            raise ValueError(f"not a data class: {data_class}")
        params = Params()
        if project is not None:
            which = f"project = {params.text(project)}"
        elif keep_projects:
            which = f"project NOT IN {params.texts(keep_projects)}"
        else:
            which = "1"
        column = "timestamp" if data_class == "raw" else "bucket"
        where = f"{column} < {params.time(before)} AND {which}"
        tables = ["events"] if data_class == "raw" else sql.tables(data_class)
        with self._maintenance:
            source = EVENTS if data_class == "raw" else tables[0]
            counted = self._records(
                f"SELECT project, count() AS n FROM {source} WHERE {where} GROUP BY project",
                params,
            )
            if not counted:
                return 0
            cut = params.time(before)
            for r in counted:
                p = params.text(r["project"])
                if data_class == "raw":
                    self._command(f"INSERT INTO raw_horizon SELECT {p}, {cut}", params)
                else:
                    level = params.text(data_class)
                    self._command(f"INSERT INTO rollup_horizon SELECT {level}, {p}, {cut}", params)
            for t in tables:
                self._delete(t, where, params)
            self._load_horizons()
        return sum(int(r["n"]) for r in counted)

    def erase(self, project: str, user_id: str | None = None) -> dict[str, int]:
        """Delete a project's data, or one user's calls in a project (right to erasure); the
        rollup days a user appears in are rebuilt from the remaining raw calls."""
        on = self.layout.on
        with self._maintenance:
            params = Params()
            p = params.text(project)
            if user_id is None:
                n = self._records(f"SELECT count() AS n FROM {EVENTS} WHERE project = {p}", params)
                for t in ["scores", "events", *(t for lv in LEVELS for t in sql.tables(lv))]:
                    self._delete(t, f"project = {p}", params)
                for t in ("raw_horizon", "rollup_horizon"):
                    self._command(f"DELETE FROM {t}{on} WHERE project = {p}", params)
                self._load_horizons()
                return {"calls": int(n[0]["n"])}
            mine = f"project = {p} AND user_id = {params.text(user_id)}"
            rows = self._records(
                f"SELECT toStartOfDay(timestamp) AS day, count() AS n FROM {EVENTS} "
                f"WHERE {mine} GROUP BY day",
                params,
            )
            scored = f"project = {p} AND event_id IN (SELECT id FROM {EVENTS} WHERE {mine})"
            self._delete("scores", scored, params)
            self._delete("events", mine, params)
            days = [_utc(r["day"]) for r in rows]
            if days:
                self._rebuild(min(days), max(days) + timedelta(days=1), project, days)
        return {"calls": sum(int(r["n"]) for r in rows), "rebuilt_days": len(rows)}

    # ------------------------------------------------------------ exports

    def export_batches(
        self,
        source: str,
        columns: Sequence[str],
        scope: Scope,
        time_column: str = "timestamp",
        batch_rows: int = 50_000,
    ) -> tuple[int, Iterator[Any]]:
        """(rows, record batches) of an export, streamed (never the whole result in memory):
        calls in time order, scores in arrival order (the scope's range on `received_at` and its
        projects), or rollup rows with their fragments merged."""
        params = Params()
        select = export_select(source, columns, scope, params, time_column)
        total = int(self._records(f"SELECT count() AS n FROM ({select})", params)[0]["n"])
        client = self._client
        empty = self._arrow(f"SELECT * FROM ({select}) LIMIT 0", params)

        def batches() -> Iterator[Any]:
            # The schema first (an export of nothing still has its columns).
            yield plain(pa.RecordBatch.from_pylist([], schema=empty.schema))
            stream = client.query_arrow_stream(
                select, parameters=params, settings={"max_block_size": batch_rows}
            )
            with stream as blocks:
                for block in blocks:
                    yield plain(block)

        return total, batches()


def _key(value: Any) -> Any:
    return aware_utc(value) if isinstance(value, datetime) else value


def _utc(t: Any) -> datetime:
    out = aware_utc(t)
    assert out is not None
    return out


def _iso(t: Any) -> str | None:
    out = aware_utc(t)
    return None if out is None else out.isoformat().replace("+00:00", "Z")
