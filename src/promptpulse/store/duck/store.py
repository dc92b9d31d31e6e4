"""DuckDB, the embedded event store: one process owns the file.

The writer thread has its own cursor and commits in groups; each query runs on a fresh cursor
with a time limit, so readers never wait for the writer. Answering from rollups, retention,
erasure and exports are in `lifecycle`; new-vs-returning cohorts in `cohorts`;
active users and retention in `users`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from promptpulse.errors import StoreUnavailable
from promptpulse.model import (
    AggRow,
    Dimension,
    Kind,
    Metric,
    Op,
    PeakRow,
    Scope,
    base_aggregates,
    check_call_fields,
    check_value_fields,
)
from promptpulse.store import deadline
from promptpulse.store.deadline import in_context
from promptpulse.store.duck import rollup_sql
from promptpulse.store.duck.carry import CarryMixin
from promptpulse.store.duck.checkpointer import Checkpointer, backstop
from promptpulse.store.duck.cohorts import CohortsMixin
from promptpulse.store.duck.costs import CostsMixin
from promptpulse.store.duck.day_users import DayUsers, DayUsersMixin
from promptpulse.store.duck.gate import QueryGate
from promptpulse.store.duck.grouped_quantiles import (
    GroupedQuantilesMixin,
    key_of,
    percentiles_of,
    rows_without_scan,
)
from promptpulse.store.duck.histograms import DayHistograms, HistogramsMixin, HourHistograms
from promptpulse.store.duck.hourly import HourlyQuantilesMixin
from promptpulse.store.duck.ingest_share import IngestShare
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.latest import LatestCalls
from promptpulse.store.duck.lifecycle import LifecycleMixin
from promptpulse.store.duck.metadata_keys import MetadataKeysMixin
from promptpulse.store.duck.metadata_texts import MetadataTexts
from promptpulse.store.duck.migrations import migrate
from promptpulse.store.duck.minutes import MINUTE_NUMBER, MinuteCounts, MinutesMixin
from promptpulse.store.duck.quantiles import exact_quantiles
from promptpulse.store.duck.sketch_lag import SketchLag
from promptpulse.store.duck.sql import (
    Record,
    agg_sql,
    aware_utc,
    dimension_sql,
    floats,
    py,
    records,
    where_clause,
)
from promptpulse.store.duck.terms import TermsMixin
from promptpulse.store.duck.time_keys import group_by_sql, time_key
from promptpulse.store.duck.users import UsersMixin
from promptpulse.store.duck.versions import FirstCalls, VersionsMixin
from promptpulse.store.duck.writer import DuckWriter, release_cache
from promptpulse.store.values_sql import check_tz, value_sql


def group_keys(
    group_by: Sequence[Dimension], interval: str | None, exprs: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """(alias, expression) of the time bucket `t` and the groups `g0`..: aliases stay inside.
    `exprs`: the groups' expressions when not the plain ones (metadata_keys)."""
    keys: list[tuple[str, str]] = []
    if interval:
        keys.append(("t", time_key(interval)))
    exprs = exprs or [dimension_sql(d) for d in group_by]
    keys.extend((f"g{i}", expr) for i, expr in enumerate(exprs))
    return keys


def row_of(record: Record, groups: int, values: dict[str, Any]) -> AggRow:
    """A typed row from a record with the aliases of `group_keys`."""
    return AggRow(
        values,
        tuple(record[f"g{i}"] for i in range(groups)),
        aware_utc(record.get("t")),
    )


class DuckStore(
    CostsMixin,
    LifecycleMixin,
    CohortsMixin,
    UsersMixin,
    TermsMixin,
    CarryMixin,
    VersionsMixin,
    MinutesMixin,
    HistogramsMixin,
    HourlyQuantilesMixin,
    GroupedQuantilesMixin,
    MetadataKeysMixin,
    DayUsersMixin,
):
    def __init__(
        self,
        path: Path,
        memory_limit: str = "400MB",
        threads: int | None = None,
        query_timeout_s: float = 30.0,
        rollup_min_calls: int = 1_000_000,
        checkpoint_threshold: str = "128MB",
        query_concurrency: int = 0,
        query_share: float = 1.0,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "checkpoint_threshold": backstop(checkpoint_threshold),  # checkpointer.py checkpoints
        }
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            raise StoreUnavailable(f"cannot open {path}: {exc}") from exc
        self._timeout = query_timeout_s
        self._memory_limit = memory_limit
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="promptpulse-query")
        # At most this many statements at once, and under busy ingest at most this share of
        # the cores, so that ingest keeps its rate while dashboards read (gate.py).
        cores = os.cpu_count() or 1
        share = IngestShare(query_share, threads or cores, cores) if query_share < 1 else None
        self.gate = QueryGate(query_concurrency, share)
        # Long ranges with at least this many calls answer from rollups (0: whenever possible).
        self.rollup_min_calls = rollup_min_calls
        self._maintenance = threading.Lock()  # compaction, rebuild, retention, erasure
        self._first_calls = FirstCalls()  # of each prompt version, for change markers
        self._minute_counts = MinuteCounts()  # calls per project and minute, for rpm_peak
        self._day_histograms = DayHistograms()  # latency and TTFT buckets per project and day
        self._hour_histograms = HourHistograms()  # the same per hour, for hourly series
        self._day_users = DayUsers()  # the users of each project and day, for active users
        self._latest_calls = LatestCalls()  # the newest call per project: is a range's end open
        self._metadata_texts = MetadataTexts()  # each project's metadata texts, for lookups
        migrate(self._con)
        with self._cursor() as cur:
            self._horizons = rollup_sql.horizons(cur)
            self._rollup_horizons = rollup_sql.rollup_horizons(cur)
        with self._lock:  # the writers' transaction numbers; sketches caught up in bulk
            self._sketch_lag = SketchLag(self._con.cursor(), self._maintenance)
        wal = path.with_name(path.name + ".wal")
        self.checkpointer = Checkpointer(self._con, wal, checkpoint_threshold)

    @contextmanager
    def _cursor(self, gated: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor that is interrupted when the query time limit passes, or the request's
        deadline (store.deadline) does, or the request is cancelled. It first waits for a slot
        at the gate, for at most the time the statement has (`gated=False`: for trivial ones)."""
        request = deadline.current()
        wait_s = self._time_left(request)
        with self.gate.admitted(wait_s) if gated else nullcontext():
            limit = self._time_left(request)  # again: the wait at the gate used some of it
            with self._lock:
                cur = self._con.cursor()
            with self._interruptible(cur, request, limit):
                yield cur

    def _time_left(self, request: deadline.Deadline | None) -> float:
        return self._timeout if request is None else min(self._timeout, request.check())

    @contextmanager
    def _interruptible(
        self, cur: duckdb.DuckDBPyConnection, request: deadline.Deadline | None, limit: float
    ) -> Iterator[None]:
        """`cur` interrupted after `limit` s, or on cancellation; DuckDB's own failures of a busy
        server as StoreUnavailable. Closes `cur`."""
        timer = threading.Timer(limit, cur.interrupt)
        timer.start()
        try:
            with request.watching(cur.interrupt) if request else nullcontext():
                yield
        except duckdb.InterruptException as exc:
            if request is not None:
                request.check()  # names the deadline or the cancellation
            raise StoreUnavailable(f"query took longer than {self._timeout:g} s") from exc
        except duckdb.OutOfMemoryException as exc:
            # A query that needs more than DuckDB's memory limit (several large ones at once):
            # the server is busy, not broken; a 503 rather than an unhandled 500.
            raise StoreUnavailable(
                "the query needed more memory than PROMPTPULSE_DUCKDB_MEMORY_LIMIT allows now; "
                "retry, narrow the range, or raise the limit"
            ) from exc
        finally:
            timer.cancel()
            cur.close()

    def _records(self, sql: str, params: Sequence[Any]) -> list[Record]:
        with self._cursor() as cur:
            return records(cur, sql, params)

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run on the query pool, carrying the caller's request deadline."""
        return self._pool.submit(in_context(fn), *args)

    def _with_cursor(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._cursor() as cur:
            return fn(cur, *args)

    # ------------------------------------------------------------ writing

    def writer(self) -> DuckWriter:
        with self._lock:
            share = self.gate.share
            told = share.committed if share else None
            cur = self._con.cursor()
        return DuckWriter(cur, self._kept(), self._sketch_lag, told)

    def _kept(self) -> tuple[KeptSummary[Any, Any], ...]:
        """Summaries of the calls kept in memory (kept.py): the writer folds its commits in,
        deletions throw them away."""
        return (
            self._first_calls,
            self._minute_counts,
            self._day_histograms,
            self._hour_histograms,
            self._day_users,
            self._latest_calls,
            self._metadata_texts,
        )

    def all_key_hashes(self) -> np.ndarray:
        with self._cursor() as cur:
            result = cur.execute("SELECT hash(project, id) AS h FROM events").fetchnumpy()
            release_cache(cur, self._memory_limit)
        return np.asarray(result["h"], dtype=np.uint64)

    def row_counts(self) -> dict[str, int]:
        """Rows stored per kind: calls and scores."""
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM scores)"
            ).fetchone()
        assert row is not None
        return {"calls": int(row[0]), "scores": int(row[1])}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in DuckDB's SQL: for this backend's own tests and tools only."""
        with self._cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    # ------------------------------------------------------------ aggregates

    def _aggregate_raw(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> list[AggRow]:
        if any(d.is_metadata for d in group_by):
            lookup = self._metadata_lookup(scope, group_by)
            if lookup is not None:
                keys = group_keys(group_by, interval, lookup.exprs)
                groups = len(group_by)
                return lookup.decoded(
                    self._aggregate_by(scope, metrics, keys, groups, lookup.params)
                )
        return self._aggregate_by(scope, metrics, group_keys(group_by, interval), len(group_by))

    def aggregate_by_hour_of_week(
        self, scope: Scope, metrics: Sequence[Metric], tz: str = "UTC"
    ) -> list[AggRow]:
        """Catalog metrics per (weekday, hour) of each call's local time in `tz`, from raw calls:
        group = (weekday Monday=0 .. Sunday=6, hour 0..23)."""
        local = f"timezone('{check_tz(tz)}', timezone('UTC', timestamp))"
        keys = [("g0", f"isodow({local}) - 1"), ("g1", f"hour({local})")]
        return self._aggregate_by(scope, metrics, keys, 2)

    def histogram(self, scope: Scope, column: str, width: float, bins: int) -> list[int]:
        """Calls per bin of a numeric field (non-null values): bin i holds [i*width,
        (i+1)*width), the last bin also everything above (open)."""
        check_value_fields([column])
        expr = value_sql(column)
        where, params = where_clause(scope)
        sql = (
            f"SELECT least(greatest(CAST(floor({expr} / ?) AS BIGINT), 0), ?) AS b, "
            f"count(*) AS n FROM events WHERE {where} AND {expr} IS NOT NULL GROUP BY b"
        )
        counts = [0] * bins
        for r in self._records(sql, [float(width), bins - 1, *params]):
            counts[int(r["b"])] = int(r["n"])
        return counts

    def _aggregate_by(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        keys: list[tuple[str, str]],
        groups: int,
        key_params: Sequence[Any] = (),
    ) -> list[AggRow]:
        """One scan computes every base aggregate once; percentiles exact, beside it by two
        passes or in it (`_grouped_futures`). `keys`: (alias, expression) of the time
        bucket `t` and the groups `g0`...; `key_params`: parameters of the key expressions."""
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        aggs = base_aggregates(derived)
        quantiles: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                quantiles.setdefault(m.column, []).append(m)
        # DuckDB runs count(DISTINCT) next to other aggregates ~10x slower than on its own, and
        # the pieces are independent scans: run them side by side on their own cursors.
        plain = [a for a in aggs if a.op is not Op.DISTINCT]
        where, params = where_clause(scope)
        all_params = [*key_params, *params]
        group = group_by_sql(keys)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{agg_sql(a)} AS a{aggs.index(a)}" for a in plain]
        # Percentiles by two passes beside the scan: ungrouped (quantiles.py), per hour (hourly.py),
        # per group of few groups (grouped_quantiles.py); else sorted in the scan itself.
        futures = (
            self._hourly_futures(scope, quantiles, keys)
            or self._grouped_futures(scope, quantiles, keys, key_params)
            if keys
            else self._exact_quantiles(scope, quantiles)
        )
        # No scan of its own for nothing but distinct counts and percentiles answered beside.
        main: Future[list[Record]] | None = None
        if keys and quantiles and not futures:  # sorted in the scan, two passes if that fails
            main = self._submit(
                self._sorted_in_scan, quantiles, keys, key_params, select, where, params
            )
        elif plain or (keys and not futures):
            sql = f"SELECT {', '.join(select) or 'count(*)'} FROM events WHERE {where}{group}"
            main = self._submit(self._records, sql, all_params)
        side = self._distinct_side(scope, aggs, keys, (where, group), all_params)
        answers = {column: f.result() for column, f in futures.items()}
        raw = main.result() if main is not None else rows_without_scan(keys, answers)
        if side is not None:
            by_key = {key_of(r, keys): r for r in side.result()}
            for r in raw:
                r.update(by_key.get(key_of(r, keys), {}))
        rows = []
        for record in raw:
            base = {a: py(record.get(f"a{i}")) for i, a in enumerate(aggs)}
            values = {m.name: m.value(base) for m in derived}
            for column, ms in quantiles.items():
                found = percentiles_of(record, column, keys, answers)
                for i, m in enumerate(ms):
                    values[m.name] = None if found is None else py(found[i])
            rows.append(row_of(record, groups, values))
        return rows

    def _exact_quantiles(
        self, scope: Scope, quantiles: dict[str, list[Metric]]
    ) -> dict[str, Future[list[float] | None]]:
        """Ungrouped exact percentiles, one column per query-pool task."""
        return {
            column: self._submit(self._exact_quantile, scope, column, [m.q for m in ms])
            for column, ms in quantiles.items()
        }

    def _exact_quantile(self, scope: Scope, column: str, qs: list[float]) -> list[float] | None:
        """Pass 1 from the kept histograms when they answer (histograms.py), else counted."""
        hist = self._kept_histogram(scope, column)
        where, params = where_clause(scope)
        return self._with_cursor(  # type: ignore[no-any-return]
            exact_quantiles, where, params, value_sql(column), qs, hist
        )

    def peak_per_minute(
        self, scope: Scope, group_by: Sequence[Dimension] = (), interval: str | None = None
    ) -> list[PeakRow]:
        if not group_by and interval is None:
            kept = self._kept_peak(scope)
            if kept is not None:
                return kept
        keys = group_keys(group_by, interval)
        inner = ", ".join(
            [
                *(f"{expr} AS {alias}" for alias, expr in keys),
                f"{MINUTE_NUMBER} AS m",
            ]
        )
        outer_keys = ", ".join(alias for alias, _ in keys)
        where, params = where_clause(scope)
        sql = (
            f"SELECT {outer_keys + ', ' if keys else ''}max(c) AS peak FROM ("
            f"SELECT {inner}, count(*) AS c FROM events WHERE {where}{group_by_sql(keys, 'm')})"
            + (f" GROUP BY {outer_keys}" if keys else "")
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
        where, params = where_clause(scope)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {', '.join(columns)} FROM events WHERE {where} "
            f"ORDER BY timestamp {order} LIMIT {int(limit)}"
        )
        return self._records(sql, params)

    def values(self, scope: Scope, column: str, where_not_null: bool = True) -> np.ndarray:
        """One numeric column of every call in scope, for statistics that need the raw sample
        (Mann-Whitney, bootstrap). Callers bound the scope; this is not for dashboards."""
        check_value_fields([column])
        expr = value_sql(column)
        where, params = where_clause(scope)
        if where_not_null:
            where += f" AND {expr} IS NOT NULL"
        with self._cursor() as cur:
            result = cur.execute(f"SELECT {expr} AS v FROM events WHERE {where}", params)
            return floats(result.fetchnumpy()["v"])

    def columns(self, scope: Scope, columns: Sequence[str]) -> dict[str, np.ndarray]:
        """Numeric columns of every call in scope, row-aligned, NULL as NaN: for statistics that
        need per-call values of more than one column (tokens = input + output). Callers bound the
        scope; this is not for dashboards."""
        check_value_fields(columns, at_least_one=True)
        where, params = where_clause(scope)
        select = ", ".join(f"CAST({value_sql(c)} AS DOUBLE) AS {c}" for c in columns)
        with self._cursor() as cur:
            result = cur.execute(f"SELECT {select} FROM events WHERE {where}", params).fetchnumpy()
        return {c: floats(result[c]) for c in columns}

    def call_table(self, scope: Scope, columns: Sequence[str]) -> pa.Table:
        """Any fields of every call in scope (derived per-call figures too), oldest first, as
        Arrow (for backtests)."""
        check_value_fields(columns, at_least_one=True)
        where, params = where_clause(scope)
        cols = ", ".join(f"{value_sql(c)} AS {c}" for c in columns)
        sql = f"SELECT {cols} FROM events WHERE {where} ORDER BY timestamp"
        with self._cursor() as cur:
            return cur.sql(sql, params=params).to_arrow_table()

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

    # ------------------------------------------------------------ health

    def ping(self) -> None:
        # A health probe must not queue behind the dashboards' statements (gate.py).
        with self._cursor(gated=False) as cur:
            cur.execute("SELECT 1").fetchall()

    def load(self) -> dict[str, tuple[float, str]]:
        return self.gate.figures() | self._sketch_lag.figures()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._sketch_lag.close()
        self.checkpointer.close()
        self._con.close()
