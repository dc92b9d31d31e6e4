"""DuckDB, the embedded event store: schema, migrations and all DuckDB-dialect SQL.

One process owns the file. The writer thread has its own cursor and commits in groups; each query
runs on a fresh cursor with a time limit, so readers never wait for the writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from promptpulse.errors import StoreUnavailable
from promptpulse.query.catalog import CONDITIONS, Agg, Kind, Metric, Op, base_aggregates
from promptpulse.query.spec import COLUMN_DIMENSIONS, Dimension, Scope
from promptpulse.rollups.plan import is_approximate
from promptpulse.store import duckdb_rollups as rollups
from promptpulse.store.base import Row
from promptpulse.store.duckdb_lifecycle import LifecycleMixin

EVENT_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("prompt_id", pa.string()),
        ("prompt_version", pa.string()),
        ("model", pa.string()),
        ("provider", pa.string()),
        ("environment", pa.string()),
        ("feature", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("service", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("metadata", pa.string()),
        ("status", pa.string()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("http_status", pa.int16()),
        ("latency_ms", pa.float64()),
        ("ttft_ms", pa.float64()),
        ("queue_ms", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("cache_hit", pa.bool_()),
        ("retries", pa.int32()),
        ("received_at", pa.timestamp("us")),
    ]
)

SCORE_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("event_id", pa.string()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("comment", pa.string()),
        ("source", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("received_at", pa.timestamp("us")),
    ]
)

# Numbered, applied in order at start-up; never edit one that has shipped, add the next.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        project VARCHAR NOT NULL, id VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL,
        prompt_id VARCHAR, prompt_version VARCHAR, model VARCHAR NOT NULL, provider VARCHAR,
        environment VARCHAR, feature VARCHAR, user_id VARCHAR, session_id VARCHAR,
        service VARCHAR, tags VARCHAR[], metadata JSON, status VARCHAR NOT NULL, error_type VARCHAR,
        error_message VARCHAR, http_status SMALLINT, latency_ms DOUBLE NOT NULL, ttft_ms DOUBLE,
        queue_ms DOUBLE, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, cost_usd DOUBLE,
        cache_hit BOOLEAN NOT NULL, retries INTEGER NOT NULL, received_at TIMESTAMP NOT NULL
    );
    CREATE TABLE scores (
        project VARCHAR NOT NULL, id VARCHAR NOT NULL, event_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL, value DOUBLE NOT NULL, comment VARCHAR, source VARCHAR,
        timestamp TIMESTAMP, received_at TIMESTAMP NOT NULL
    );
    """,
    # 2: rollups (hourly, daily; mergeable sketches), the raw-retention horizon; backfilled.
    rollups.ddl() + "\n" + rollups.backfill_sql(),
)


def _utc_naive(t: datetime) -> datetime:
    """DuckDB's TIMESTAMP holds UTC without an offset."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _dimension_sql(dimension: Dimension, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    if dimension.is_metadata:
        # The key is restricted to [A-Za-z0-9_-.:/ ] by the spec parser, so inlining is safe.
        return f"json_extract_string({p}metadata, '$.\"{dimension.metadata_key}\"')"
    if dimension.name not in COLUMN_DIMENSIONS:
        raise ValueError(f"not a dimension: {dimension.name}")
    return p + dimension.name


def where_clause(scope: Scope, alias: str = "") -> tuple[str, list[Any]]:
    """SQL condition and parameters for a scope: half-open range, then the filters."""
    p = f"{alias}." if alias else ""
    parts = [f"{p}timestamp >= ?", f"{p}timestamp < ?"]
    params: list[Any] = [_utc_naive(scope.start), _utc_naive(scope.end)]
    for f in scope.filters:
        marks = ", ".join("?" for _ in f.values)
        if f.dimension == "tag":
            parts.append(f"list_has_any({p}tags, [{marks}]::VARCHAR[])")
        else:
            parts.append(f"{_dimension_sql(Dimension(f.dimension), alias)} IN ({marks})")
        params.extend(f.values)
    return " AND ".join(parts), params


def _agg_sql(agg: Agg) -> str:
    """A base aggregate of the catalog in DuckDB's dialect."""
    if agg.op is Op.COUNT:
        return "count(*)"
    if agg.op is Op.COUNT_IF:
        return f"count_if({CONDITIONS[agg.arg]})"
    column = agg.arg
    if column not in EVENT_SCHEMA.names:
        raise ValueError(f"not a call field: {column}")
    return {
        Op.COUNT_VALUES: f"count({column})",
        Op.SUM: f"sum({column})",
        Op.MAX: f"max({column})",
        Op.DISTINCT: f"count(DISTINCT {column})",
    }[agg.op]


def _exact_quantiles(
    cur: duckdb.DuckDBPyConnection,
    where: str,
    params: list[Any],
    column: str,
    qs: Sequence[float],
) -> list[float] | None:
    """Exact percentiles (numpy's linear definition) without sorting every value.

    Pass 1 counts values per 1-unit bucket (`floor(x)`, a monotone map, so ranks stay in bucket
    order); the ranks each percentile needs then fall in a few known buckets. Pass 2 fetches only
    the values of those buckets and picks the exact order statistics. Two cheap scans instead of
    a sort of the whole column: ~3x faster than quantile_cont on 10 M calls.
    """
    bucket = f"floor({column})"
    hist = cur.execute(
        f"SELECT {bucket} AS b, count(*) AS n FROM events WHERE {where} AND {column} IS NOT NULL "
        "GROUP BY b ORDER BY b",
        params,
    ).fetchnumpy()
    counts = np.asarray(hist["n"], dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return None
    buckets = np.asarray(hist["b"], dtype=np.float64)
    through = np.cumsum(counts)  # values in buckets 0..i
    wanted: list[tuple[int, int, float]] = []  # (low rank, high rank, weight of high)
    for q in qs:
        h = (total - 1) * q
        low = int(np.floor(h))
        wanted.append((low, min(low + 1, total - 1), h - low))
    ranks = sorted({r for lo, hi, _ in wanted for r in (lo, hi)})
    index_of = {r: int(np.searchsorted(through, r, side="right")) for r in ranks}
    needed = sorted({index_of[r] for r in ranks})
    # The same bucket expression as pass 1, so membership is exact (and an IN list is 3x faster
    # than OR-ed ranges in DuckDB).
    marks = ", ".join("?" for _ in needed)
    fetched = cur.execute(
        f"SELECT {bucket} AS b, {column} AS v FROM events WHERE {where} "
        f"AND {column} IS NOT NULL AND {bucket} IN ({marks})",  # NOT NULL first: 4x faster
        [*params, *(float(buckets[i]) for i in needed)],
    ).fetchnumpy()
    b_values = np.asarray(fetched["b"], dtype=np.float64)
    values = np.asarray(fetched["v"], dtype=np.float64)
    sorted_by_bucket = {i: np.sort(values[b_values == buckets[i]]) for i in needed}
    order_stat = {}
    for r in ranks:
        i = index_of[r]
        before = int(through[i] - counts[i])
        order_stat[r] = float(sorted_by_bucket[i][r - before])
    return [
        order_stat[lo] + w * (order_stat[hi] - order_stat[lo]) if w else order_stat[lo]
        for lo, hi, w in wanted
    ]


def _group_keys(group_by: Sequence[Dimension], interval: str | None) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if interval:
        keys.append(("t", f"date_trunc('{interval}', timestamp)"))
    keys.extend((f"g{i}", _dimension_sql(d)) for i, d in enumerate(group_by))
    return keys


def _floats(column: Any) -> np.ndarray:
    """A fetched column as float64 with NULL as NaN (DuckDB hands back a masked array)."""
    if isinstance(column, np.ma.MaskedArray):
        return np.ma.filled(column.astype(np.float64), np.nan)
    return np.asarray(column, dtype=np.float64)


def _records(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[Row]:
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def _py(value: Any) -> Any:
    """DuckDB HUGEINT sums arrive as int already; decimals and numpy scalars do not."""
    if value is None or isinstance(value, (int, float, str, bool, datetime)):
        return value
    return float(value)


class DuckDBWriter:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def begin(self) -> None:
        self._con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self._con.execute("COMMIT")

    def rollback(self) -> None:
        self._con.execute("ROLLBACK")

    def key_hashes(self, events: pa.Table) -> np.ndarray:
        self._con.register("incoming_keys", events.select(["project", "id"]))
        try:
            result = self._con.execute("SELECT hash(project, id) AS h FROM incoming_keys")
            return np.asarray(result.fetchnumpy()["h"], dtype=np.uint64)
        finally:
            self._con.unregister("incoming_keys")

    def existing_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        if not keys:
            return set()
        wanted = pa.table({"project": [k[0] for k in keys], "id": [k[1] for k in keys]})
        self._con.register("wanted_keys", wanted)
        try:
            rows = self._con.execute(
                "SELECT e.project, e.id FROM events e SEMI JOIN wanted_keys w "
                "ON e.project = w.project AND e.id = w.id"
            ).fetchall()
        finally:
            self._con.unregister("wanted_keys")
        return {(r[0], r[1]) for r in rows}

    def insert_events(self, events: pa.Table) -> None:
        self._con.register("incoming_events", events)
        try:
            self._con.execute("INSERT INTO events BY NAME SELECT * FROM incoming_events")
            # Rollup fragments commit with the calls: rollups are never behind raw data.
            rollups.write_through(self._con, "incoming_events")
        finally:
            self._con.unregister("incoming_events")

    def insert_scores(self, scores: pa.Table) -> int:
        """Insert the scores not stored yet; returns how many were new."""
        self._con.register("incoming_scores", scores)
        try:
            # fetchall() finishes each result: an open one would block unregister (DuckDB 2).
            inserted = self._con.execute(
                "INSERT INTO scores BY NAME SELECT * FROM incoming_scores i "
                "WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.project = i.project "
                "AND s.id = i.id)"
            ).fetchall()
        finally:
            self._con.unregister("incoming_scores")
        return int(inserted[0][0]) if inserted else 0


class DuckDBStore(LifecycleMixin):
    def __init__(
        self,
        path: Path,
        memory_limit: str = "400MB",
        threads: int | None = None,
        query_timeout_s: float = 30.0,
        rollup_min_calls: int = 1_000_000,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            raise StoreUnavailable(f"cannot open {path}: {exc}") from exc
        self._timeout = query_timeout_s
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="promptpulse-query")
        # Long ranges with at least this many calls answer from rollups (0: whenever possible).
        self.rollup_min_calls = rollup_min_calls
        self._maintenance = threading.Lock()  # compaction, rebuild, retention, erasure
        self._migrate()
        with self._cursor() as cur:
            self._horizons = rollups.horizons(cur)

    def _migrate(self) -> None:
        con = self._con
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] if row and row[0] is not None else 0
        for number, sql in enumerate(MIGRATIONS, start=1):
            if number > current:
                con.execute("BEGIN TRANSACTION")
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?)", [number])
                con.execute("COMMIT")

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor that is interrupted when the query time limit passes."""
        with self._lock:
            cur = self._con.cursor()
        timer = threading.Timer(self._timeout, cur.interrupt)
        timer.start()
        try:
            yield cur
        except duckdb.InterruptException as exc:
            raise StoreUnavailable(f"query took longer than {self._timeout:g} s") from exc
        finally:
            timer.cancel()
            cur.close()

    def _exact_split(self, scope: Scope, metrics: Sequence[Metric]) -> list[Row] | None:
        """An exact whole-range answer in two parts: counts and sums (exact in rollups, so they
        may come from there) and what only raw calls give exactly (percentiles, distinct users).
        None when there is nothing to split."""
        raw_only = [
            m for m in metrics
            if m.kind is Kind.QUANTILE or any(a.op is Op.DISTINCT for a in m.parts)
        ]  # fmt: skip
        rest = [m for m in metrics if m not in raw_only]
        if not raw_only or not rest or self._rollup_plan(scope, rest, (), None, False) is None:
            return None
        row = self.aggregate(scope, rest)[0]
        row.update(self.aggregate(scope, raw_only)[0])
        return [row]

    def _records(self, sql: str, params: list[Any]) -> list[Row]:
        with self._cursor() as cur:
            return _records(cur, sql, params)

    def _with_cursor(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._cursor() as cur:
            return fn(cur, *args)

    def writer(self) -> DuckDBWriter:
        with self._lock:
            return DuckDBWriter(self._con.cursor())

    def all_key_hashes(self) -> np.ndarray:
        with self._cursor() as cur:
            result = cur.execute("SELECT hash(project, id) AS h FROM events").fetchnumpy()
        return np.asarray(result["h"], dtype=np.uint64)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement; for tests, tools and the query layer's own helpers."""
        with self._cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def aggregate(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
        allow_approximate: bool = False,
    ) -> list[Row]:
        """Catalog metrics per group: one scan computes every base aggregate once; percentiles
        are exact (grouped: DuckDB's quantile_cont; ungrouped: `_exact_quantiles`).

        Long ranges answer from rollups when they can (see `_rollup_plan`): counts, sums and
        rates stay exact; percentiles and distinct counts come from sketches, so only callers
        that pass `allow_approximate` get those, and each such row says `"approximate": True`."""
        if not allow_approximate and not group_by and not interval:
            split = self._exact_split(scope, metrics)
            if split is not None:
                return split
        plan = self._rollup_plan(scope, metrics, group_by, interval, allow_approximate)
        if plan is not None:
            rows = self._aggregate_rollups(plan, scope, metrics, group_by, interval)
            if is_approximate(metrics):
                for r in rows:
                    r["approximate"] = True
            return rows
        keys = _group_keys(group_by, interval)
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        aggs = base_aggregates(derived)
        quantiles: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                quantiles.setdefault(m.column, []).append(m)
        # DuckDB runs count(DISTINCT) next to other aggregates ~10x slower than on its own.
        plain = [a for a in aggs if a.op is not Op.DISTINCT]
        distinct = [a for a in aggs if a.op is Op.DISTINCT]
        where, params = where_clause(scope)
        group = " GROUP BY " + ", ".join(alias for alias, _ in keys) if keys else ""
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{_agg_sql(a)} AS a{aggs.index(a)}" for a in plain]
        if keys:
            for column, ms in quantiles.items():
                qs = ", ".join(repr(m.q) for m in ms)
                select.append(f'quantile_cont({column}, [{qs}]) AS "q_{column}"')
        # The pieces are independent scans: run them side by side on their own cursors.
        main = self._pool.submit(
            self._records,
            f"SELECT {', '.join(select) or 'count(*)'} FROM events WHERE {where}{group}",
            params,
        )
        side = None
        if distinct:
            extra = [f"{expr} AS {alias}" for alias, expr in keys]
            extra += [f"{_agg_sql(a)} AS a{aggs.index(a)}" for a in distinct]
            side = self._pool.submit(
                self._records,
                f"SELECT {', '.join(extra)} FROM events WHERE {where}{group}",
                params,
            )
        exact_futures = {}
        if not keys:
            for column, ms in quantiles.items():
                exact_futures[column] = self._pool.submit(
                    self._with_cursor, _exact_quantiles, where, params, column, [m.q for m in ms]
                )
        raw = main.result()
        if side is not None:
            by_key = {tuple(r[alias] for alias, _ in keys): r for r in side.result()}
            for r in raw:
                r.update(by_key.get(tuple(r[alias] for alias, _ in keys), {}))
        exact = {column: f.result() for column, f in exact_futures.items()}
        rows = []
        for record in raw:
            row: Row = {alias: record[alias] for alias, _ in keys}
            base = {a: _py(record.get(f"a{i}")) for i, a in enumerate(aggs)}
            for m in derived:
                row[m.name] = m.value(base)
            for column, ms in quantiles.items():
                found = exact[column] if not keys else record[f"q_{column}"]
                for i, m in enumerate(ms):
                    row[m.name] = None if found is None else _py(found[i])
            rows.append(row)
        return rows

    def peak_per_minute(
        self, scope: Scope, group_by: Sequence[Dimension] = (), interval: str | None = None
    ) -> list[Row]:
        keys = _group_keys(group_by, interval)
        inner = ", ".join(
            [
                *(f"{expr} AS {alias}" for alias, expr in keys),
                "date_trunc('minute', timestamp) AS m",
            ]
        )
        outer_keys = ", ".join(alias for alias, _ in keys)
        where, params = where_clause(scope)
        sql = (
            f"SELECT {outer_keys + ', ' if keys else ''}max(c) AS peak FROM ("
            f"SELECT {inner}, count(*) AS c FROM events WHERE {where} GROUP BY ALL)"
            + (f" GROUP BY {outer_keys}" if keys else "")
        )
        with self._cursor() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def calls(
        self, scope: Scope, columns: Sequence[str], limit: int, newest_first: bool = True
    ) -> list[Row]:
        """Raw calls in scope (the record's own fields), newest first: for lists and drill-downs."""
        unknown = set(columns) - set(EVENT_SCHEMA.names)
        if unknown:
            raise ValueError(f"not a call field: {sorted(unknown)}")
        where, params = where_clause(scope)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {', '.join(columns)} FROM events WHERE {where} "
            f"ORDER BY timestamp {order} LIMIT {int(limit)}"
        )
        with self._cursor() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def values(self, scope: Scope, column: str, where_not_null: bool = True) -> np.ndarray:
        """One numeric column of every call in scope, for statistics that need the raw sample
        (Mann-Whitney, bootstrap). Callers bound the scope; this is not for dashboards."""
        if column not in EVENT_SCHEMA.names:
            raise ValueError(f"not a call field: {column}")
        where, params = where_clause(scope)
        if where_not_null:
            where += f" AND {column} IS NOT NULL"
        with self._cursor() as cur:
            result = cur.execute(f"SELECT {column} AS v FROM events WHERE {where}", params)
            return _floats(result.fetchnumpy()["v"])

    def score_summary(self, scope: Scope) -> dict[str, dict[str, float | int]]:
        where, params = where_clause(scope, alias="e")
        sql = (
            "SELECT s.name, count(*), avg(s.value) FROM scores s JOIN events e "
            f"ON e.project = s.project AND e.id = s.event_id WHERE {where} GROUP BY s.name "
            "ORDER BY s.name"
        )
        with self._cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        return {name: {"count": int(n), "mean": float(mean)} for name, n, mean in rows}

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1").fetchall()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._con.close()

    def columns(self, scope: Scope, columns: Sequence[str]) -> dict[str, np.ndarray]:
        """Numeric columns of every call in scope, row-aligned, NULL as NaN: for statistics that
        need per-call values of more than one column (tokens = input + output). Callers bound the
        scope; this is not for dashboards."""
        unknown = set(columns) - set(EVENT_SCHEMA.names)
        if unknown or not columns:
            raise ValueError(f"not a call field: {sorted(unknown)}")
        where, params = where_clause(scope)
        select = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in columns)
        with self._cursor() as cur:
            result = cur.execute(f"SELECT {select} FROM events WHERE {where}", params).fetchnumpy()
        return {
            c: np.ma.filled(np.ma.asarray(result[c], dtype=np.float64), np.nan) for c in columns
        }

    # --- cohorts: new vs returning users -------------------------------------------------
    # A call with a user_id in scope is "new" when its user had no call in the same project
    # before `since` (their first call ever there is at or after it), else "returning". Calls
    # without user_id are in neither cohort. History is whatever raw calls are still stored: a
    # user whose earlier calls fell out of raw retention counts as new.

    def _cohort_sql(self, scope: Scope, since: datetime) -> tuple[str, list[Any]]:
        """A `scoped` CTE: the calls of `scope` that have a user_id, with `is_new`."""
        where, params = where_clause(scope, alias="e")
        projects = scope.filter_values("project")
        history = "h.timestamp < ? AND h.user_id IS NOT NULL"
        history_params: list[Any] = [_utc_naive(since)]
        if projects:
            history += f" AND h.project IN ({', '.join('?' for _ in projects)})"
            history_params.extend(projects)
        sql = (
            "WITH seen AS (SELECT DISTINCT h.project, h.user_id FROM events h "
            f"WHERE {history}), "
            "scoped AS (SELECT e.*, s.user_id IS NULL AS is_new FROM events e "
            "LEFT JOIN seen s ON s.project = e.project AND s.user_id = e.user_id "
            f"WHERE {where} AND e.user_id IS NOT NULL) "
        )
        return sql, [*history_params, *params]

    def cohort_aggregate(
        self,
        scope: Scope,
        since: datetime,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
    ) -> list[Row]:
        """Catalog metrics (aggregates and exact percentiles) per cohort and group, in one scan
        from raw calls: rows carry `cohort` ("new" or "returning"), `g0`.. and the metrics."""
        cte, params = self._cohort_sql(scope, since)
        keys = [("cohort", "CASE WHEN is_new THEN 'new' ELSE 'returning' END")]
        keys += [(f"g{i}", _dimension_sql(d)) for i, d in enumerate(group_by)]
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        quantiles = [m for m in metrics if m.kind is Kind.QUANTILE]
        if len(derived) + len(quantiles) != len(metrics):
            raise ValueError("cohorts take aggregate and percentile metrics only")
        aggs = base_aggregates(derived)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{_agg_sql(a)} AS a{i}" for i, a in enumerate(aggs)]
        select += [f"quantile_cont({m.column}, {m.q!r}) AS q{i}" for i, m in enumerate(quantiles)]
        sql = (
            f"{cte}SELECT {', '.join(select)} FROM scoped "
            f"GROUP BY {', '.join(alias for alias, _ in keys)}"
        )
        rows = []
        for record in self._records(sql, params):
            row: Row = {alias: record[alias] for alias, _ in keys}
            base = {a: _py(record[f"a{i}"]) for i, a in enumerate(aggs)}
            for m in derived:
                row[m.name] = m.value(base)
            for i, m in enumerate(quantiles):
                row[m.name] = _py(record[f"q{i}"])
            rows.append(row)
        return rows

    def cohort_columns(
        self, scope: Scope, since: datetime, new: bool, columns: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Like `columns`, for the calls of one cohort (new users' or returning users'): the raw
        per-call sample the mean and percentile tests need. Callers bound the scope."""
        unknown = set(columns) - set(EVENT_SCHEMA.names)
        if unknown or not columns:
            raise ValueError(f"not a call field: {sorted(unknown)}")
        cte, params = self._cohort_sql(scope, since)
        select = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in columns)
        sql = f"{cte}SELECT {select} FROM scoped WHERE is_new = ?"
        with self._cursor() as cur:
            result = cur.execute(sql, [*params, new]).fetchnumpy()
        return {
            c: np.ma.filled(np.ma.asarray(result[c], dtype=np.float64), np.nan) for c in columns
        }
