"""ClickHouse, the scale-out event store: one clickhouse-connect client (a server, or chdb in the
process) shared by every thread; each statement is synchronous. Answering from rollups,
retention, erasure and exports are in `lifecycle`; new-vs-returning cohorts in `cohorts`."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable
from promptpulse.model import (
    AggRow,
    Dimension,
    Kind,
    Metric,
    PeakRow,
    Scope,
    base_aggregates,
    check_call_fields,
    check_value_fields,
)
from promptpulse.store import deadline
from promptpulse.store.click.carry import CarryMixin
from promptpulse.store.click.cohorts import CohortsMixin
from promptpulse.store.click.connect import connect
from promptpulse.store.click.costs import CostsMixin
from promptpulse.store.click.lifecycle import LifecycleMixin
from promptpulse.store.click.migrations import migrate
from promptpulse.store.click.schema import Layout
from promptpulse.store.click.sql import (
    EVENTS,
    SCORES,
    Params,
    Record,
    agg_sql,
    aware_utc,
    bucket_sql,
    dimension_sql,
    floats,
    py,
    where_clause,
)
from promptpulse.store.click.terms import TermsMixin
from promptpulse.store.click.users import UsersMixin
from promptpulse.store.click.versions import VersionsMixin
from promptpulse.store.click.writer import KEY_HASH_SQL, ClickWriter, keys_param
from promptpulse.store.url import StoreTarget
from promptpulse.store.values_sql import check_tz, value_sql

LOOKUP_CHUNK = 10_000  # keys per lookup of stored calls


def group_keys(group_by: Sequence[Dimension], interval: str | None) -> list[tuple[str, str]]:
    """(alias, expression) of the time bucket `t` and the groups `g0`..: aliases stay inside."""
    keys: list[tuple[str, str]] = []
    if interval:
        keys.append(("t", bucket_sql(interval)))
    keys.extend((f"g{i}", dimension_sql(d)) for i, d in enumerate(group_by))
    return keys


def row_of(record: Record, groups: int, values: dict[str, Any]) -> AggRow:
    return AggRow(values, tuple(record[f"g{i}"] for i in range(groups)), aware_utc(record.get("t")))


class ClickStore(
    CostsMixin, LifecycleMixin, CohortsMixin, UsersMixin, TermsMixin, CarryMixin, VersionsMixin
):
    def __init__(self, target: StoreTarget, settings: Settings) -> None:
        self.target = target
        self.layout = Layout(settings.clickhouse_cluster)
        self._client = connect(target, settings)
        self._timeout = settings.query_timeout_s
        # Long ranges with at least this many calls answer from rollups (0: whenever possible).
        self.rollup_min_calls = settings.rollup_min_calls
        self._maintenance = threading.Lock()  # rebuild, retention, erasure
        # Durable on return: no async insert; a Distributed table forwards before it returns.
        self._insert_settings: dict[str, Any] = {"async_insert": 0}
        if self.layout.cluster:
            self._insert_settings["distributed_foreground_insert"] = 1
        with self._errors():
            migrate(self._client.command, self._scalar, self.layout)
        self._load_horizons()

    # ------------------------------------------------------------ the connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """An unreachable server is StoreUnavailable (503 and Retry-After, not a 500)."""
        try:
            yield
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse is unreachable: {exc}") from exc
        except ClickHouseError as exc:
            if "TIMEOUT_EXCEEDED" in str(exc) or "Timeout exceeded" in str(exc):
                raise StoreUnavailable(f"query took longer than {self._timeout:g} s") from exc
            raise

    def _within_deadline(self) -> dict[str, Any]:
        """Query settings bounding a statement by its request's time left (store.deadline);
        a statement started past the deadline fails at once."""
        request = deadline.current()
        if request is None:
            return {}
        return {"max_execution_time": max(1, math.ceil(min(self._timeout, request.check())))}

    def _records(self, sql: str, params: Params | None = None) -> list[Record]:
        bound = self._within_deadline()
        with self._errors():
            result = self._client.query(sql, parameters=params or {}, settings=bound or None)
            return list(result.named_results())

    def _arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        bound = self._within_deadline()
        with self._errors():
            return self._client.query_arrow(sql, parameters=params or {}, settings=bound or None)

    def _command(self, sql: str, params: Params | None = None) -> None:
        # The insert settings too: an INSERT … SELECT (a rebuild) is synchronous like a write.
        with self._errors():
            self._client.command(sql, parameters=params or None, settings=self._insert_settings)

    def _scalar(self, sql: str, params: Params | None = None) -> Any:
        rows = self._records(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def insert(self, table: str, data: pa.Table) -> None:
        with self._errors():
            self._client.insert_arrow(table, data, settings=self._insert_settings)

    def stored_keys(
        self, table: str, id_column: str, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (project, id) of `keys` the table holds."""
        if not keys:
            return set()
        params = Params()
        projects = params.texts(sorted({k[0] for k in keys}))
        wanted = keys_param(params, keys)
        rows = self._records(
            f"SELECT DISTINCT project, {id_column} AS i FROM {table} WHERE project IN {projects} "
            f"AND (project, {id_column}) IN {wanted}",
            params,
        )
        return {(r["project"], r["i"]) for r in rows}

    def stored_calls(self, events: pa.Table) -> set[tuple[str, str]]:
        """Which calls of `events` are stored already, by the sort key (project, day, id): the
        same key under which copies collapse, so what this misses FINAL catches. The engine
        gets the ids as one string array (10x faster to bind than tuples) bounded by the
        batch's projects and days; the exact key is matched here."""
        if events.num_rows > LOOKUP_CHUNK:  # a bound array's parse grows faster than its length
            found: set[tuple[str, str]] = set()
            for start in range(0, events.num_rows, LOOKUP_CHUNK):
                found |= self.stored_calls(events.slice(start, LOOKUP_CHUNK))
            return found
        if not events.num_rows:
            return set()
        stamps = pc.cast(events.column("timestamp"), pa.timestamp("us"))
        days = pc.cast(stamps, pa.date32()).to_pylist()
        projects = events.column("project").to_pylist()
        ids = events.column("id").to_pylist()
        wanted = set(zip(projects, days, ids, strict=True))
        params = Params()
        lo = min(days)
        hi = max(days) + timedelta(days=1)
        rows = self._records(
            f"SELECT DISTINCT project, toDate(timestamp) AS day, id FROM events "
            f"WHERE project IN {params.texts(sorted(set(projects)))} "
            f"AND timestamp >= {params.time(datetime(lo.year, lo.month, lo.day))} "
            f"AND timestamp < {params.time(datetime(hi.year, hi.month, hi.day))} "
            f"AND id IN {params.texts(ids)}",
            params,
        )
        return {
            (r["project"], r["id"]) for r in rows if (r["project"], r["day"], r["id"]) in wanted
        }

    # ------------------------------------------------------------ writing

    def writer(self) -> ClickWriter:
        return ClickWriter(self)

    def all_key_hashes(self) -> np.ndarray:
        result = self._arrow(f"SELECT {KEY_HASH_SQL} AS h FROM events")
        return np.asarray(result.column("h").to_numpy(), dtype=np.uint64)

    def row_counts(self) -> dict[str, int]:
        """Rows stored per kind: calls and scores."""
        rows = self._records(
            f"SELECT (SELECT count() FROM {EVENTS}) AS calls, (SELECT count() FROM {SCORES}) AS s"
        )
        return {"calls": int(rows[0]["calls"]), "scores": int(rows[0]["s"])}

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in ClickHouse's SQL: for this backend's own tests and tools only."""
        with self._errors():
            return list(self._client.query(sql, parameters=params or {}).result_rows)

    # ------------------------------------------------------------ aggregates

    def _aggregate_raw(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> list[AggRow]:
        return self._aggregate_by(scope, metrics, group_keys(group_by, interval), len(group_by))

    def aggregate_by_hour_of_week(
        self, scope: Scope, metrics: Sequence[Metric], tz: str = "UTC"
    ) -> list[AggRow]:
        """Catalog metrics per (weekday, hour) of each call's local time in `tz`, from raw calls:
        group = (weekday Monday=0 .. Sunday=6, hour 0..23)."""
        zone = f"'{check_tz(tz)}'"
        keys = [
            ("g0", f"toDayOfWeek(timestamp, 0, {zone}) - 1"),
            ("g1", f"toHour(timestamp, {zone})"),
        ]
        return self._aggregate_by(scope, metrics, keys, 2)

    def histogram(self, scope: Scope, column: str, width: float, bins: int) -> list[int]:
        """Calls per bin of a numeric field (non-null values): bin i holds [i*width,
        (i+1)*width), the last bin also everything above (open)."""
        check_value_fields([column])
        expr = value_sql(column)
        params = Params()
        w = params.add(float(width), "Float64")
        last = params.add(bins - 1, "Int64")
        where = where_clause(scope, params)
        sql = (
            f"SELECT least(greatest(toInt64(floor({expr} / {w})), 0), {last}) AS b, "
            f"count() AS n FROM {EVENTS} WHERE {where} AND {expr} IS NOT NULL GROUP BY b"
        )
        counts = [0] * bins
        for r in self._records(sql, params):
            counts[int(r["b"])] = int(r["n"])
        return counts

    def _aggregate_by(
        self, scope: Scope, metrics: Sequence[Metric], keys: list[tuple[str, str]], groups: int
    ) -> list[AggRow]:
        """`keys`: (alias, expression) of the time bucket `t` and the groups `g0`.."""
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        aggs = base_aggregates(derived)
        quantiles: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                check_value_fields([m.column])
                quantiles.setdefault(m.column, []).append(m)
        params = Params()
        where = where_clause(scope, params)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{agg_sql(a)} AS a{i}" for i, a in enumerate(aggs)]
        for column, ms in quantiles.items():
            qs = ", ".join(repr(m.q) for m in ms)
            select.append(f"quantilesExactInclusive({qs})({value_sql(column)}) AS `q_{column}`")
        group = " GROUP BY " + ", ".join(alias for alias, _ in keys) if keys else ""
        sql = f"SELECT {', '.join(select) or 'count()'} FROM {EVENTS} WHERE {where}{group}"
        rows = []
        for record in self._records(sql, params):
            base = {a: py(record.get(f"a{i}")) for i, a in enumerate(aggs)}
            values = {m.name: m.value(base) for m in derived}
            for column, ms in quantiles.items():
                found = record[f"q_{column}"]
                for i, m in enumerate(ms):
                    values[m.name] = py(found[i]) if found else None
            rows.append(row_of(record, groups, values))
        return rows

    def peak_per_minute(
        self, scope: Scope, group_by: Sequence[Dimension] = (), interval: str | None = None
    ) -> list[PeakRow]:
        keys = group_keys(group_by, interval)
        inner = [f"{expr} AS {alias}" for alias, expr in keys]
        inner.append("toStartOfMinute(timestamp) AS m")
        outer = ", ".join(alias for alias, _ in keys)
        params = Params()
        where = where_clause(scope, params)
        sql = (
            f"SELECT {outer + ', ' if keys else ''}max(c) AS peak FROM ("
            f"SELECT {', '.join(inner)}, count() AS c FROM {EVENTS} WHERE {where} "
            f"GROUP BY {', '.join([*(a for a, _ in keys), 'm'])})"
            + (f" GROUP BY {outer}" if keys else "")
        )
        return [
            PeakRow(
                int(r["peak"] or 0),
                tuple(r[f"g{i}"] for i in range(len(group_by))),
                aware_utc(r.get("t")),
            )
            for r in self._records(sql, params)
        ]

    # ------------------------------------------------------------ raw calls

    def calls(
        self, scope: Scope, columns: Sequence[str], limit: int, newest_first: bool = True
    ) -> list[Record]:
        """Raw calls in scope (the record's own fields), newest first: for lists and drill-downs."""
        check_call_fields(columns)
        params = Params()
        where = where_clause(scope, params)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {EVENTS} WHERE {where} "
            f"ORDER BY timestamp {order} LIMIT {int(limit)}"
        )
        return self._records(sql, params)

    def values(self, scope: Scope, column: str, where_not_null: bool = True) -> np.ndarray:
        """One numeric column of every call in scope, for statistics that need the raw sample.
        Callers bound the scope; this is not for dashboards."""
        check_value_fields([column])
        expr = value_sql(column)
        params = Params()
        where = where_clause(scope, params)
        if where_not_null:
            where += f" AND {expr} IS NOT NULL"
        return floats(self._arrow(f"SELECT {expr} AS v FROM {EVENTS} WHERE {where}", params)["v"])

    def columns(self, scope: Scope, columns: Sequence[str]) -> dict[str, np.ndarray]:
        """Numeric columns of every call in scope, row-aligned, NULL as NaN. Callers bound the
        scope; this is not for dashboards."""
        check_value_fields(columns, at_least_one=True)
        params = Params()
        where = where_clause(scope, params)
        select = ", ".join(f"toFloat64({value_sql(c)}) AS {c}" for c in columns)
        result = self._arrow(f"SELECT {select} FROM {EVENTS} WHERE {where}", params)
        return {c: floats(result[c]) for c in columns}

    def call_table(self, scope: Scope, columns: Sequence[str]) -> pa.Table:
        """Any fields of every call in scope (derived per-call figures too), oldest first, as
        Arrow (for backtests)."""
        check_value_fields(columns, at_least_one=True)
        params = Params()
        where = where_clause(scope, params)
        cols = ", ".join(f"{value_sql(c)} AS `{c}`" for c in columns)
        return self._arrow(f"SELECT {cols} FROM {EVENTS} WHERE {where} ORDER BY timestamp", params)

    def score_summary(self, scope: Scope) -> dict[str, dict[str, float | int]]:
        """Scores of the calls in scope (scores join calls on (project, id)), per name."""
        params = Params()
        where = where_clause(scope, params)
        sql = (
            f"SELECT name, count() AS n, avg(value) AS mean FROM {SCORES} "
            f"WHERE (project, event_id) IN (SELECT project, id FROM {EVENTS} WHERE {where}) "
            "GROUP BY name ORDER BY name"
        )
        return {
            r["name"]: {"count": int(r["n"]), "mean": float(r["mean"])}
            for r in self._records(sql, params)
        }

    # ------------------------------------------------------------ health

    def ping(self) -> None:
        self._records("SELECT 1")

    def load(self) -> dict[str, tuple[float, str]]:
        return {}  # the server's own system tables say it (system.metrics, system.processes)

    def close(self) -> None:
        self._client.close()
