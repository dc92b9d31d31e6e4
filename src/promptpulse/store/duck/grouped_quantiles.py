"""Exact percentiles of every group of a grouped query at once (a breakdown, a daily series, a
series by a dimension), by the two-pass selection of quantiles.py done per group, when the groups
are few.

DuckDB's grouped `quantile_cont` keeps every value of every group until it sorts them: a
breakdown of 10 M calls by model holds ~160 MB for latency and TTFT, and answers 503 once that
passes DuckDB's memory limit (it cannot spill). Here pass 1 is a histogram of `floor(value)` per
group, an ordinary GROUP BY of a few rows per group and bucket; it names, per group, the buckets
that hold the ranks each percentile needs. Pass 2 fetches the values of those (group, bucket)
pairs alone and picks the exact order statistics from them. Both passes read one snapshot (one
transaction), so they count the same calls.

Pass 1 holds a row per (group, bucket): with many groups that is nearly a row per call (by user
at 10 M calls: 2.3 s against 0.27 s for quantile_cont), and it is slower than the sort from ~12
groups on (docs/performance.md). So the two passes answer only when a 1 % sample of the range
shows at most FEW_GROUPS groups. Otherwise, and in a small store (where one query beats the two
passes' five: alert rounds ask many small grouped questions), `quantile_cont` answers inside the
scan itself (`in_scan_sql`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from promptpulse.errors import StoreUnavailable
from promptpulse.model import Metric, Scope
from promptpulse.store.duck.quantiles import percentiles_of_rows, rows_of_ranks
from promptpulse.store.duck.sql import where_clause
from promptpulse.store.duck.time_keys import group_by_sql
from promptpulse.store.values_sql import value_sql

Key = tuple[Any, ...]  # a group's key values, in the order of `keys`
# Stored calls up to which a grouped percentile sorts every value in the scan (quantile_cont):
# at most 8 MB a column, and its one query is faster than the two passes' five.
SORT_IN_SCAN = 1_000_000
FEW_GROUPS = 12  # groups in a 1 % sample up to which the two passes beat the sort


class GroupedQuantilesMixin:
    _with_cursor: Callable[..., Any]
    _submit: Callable[..., Future[Any]]
    _records: Callable[..., list[dict[str, Any]]]

    def _grouped_futures(
        self,
        scope: Scope,
        quantiles: dict[str, list[Metric]],
        keys: list[tuple[str, str]],
        key_params: Sequence[Any],
    ) -> dict[str, Future[dict[Key, list[float]]]]:
        """The percentiles of a grouped scan (`keys`), column by column on the query pool; none
        in a small store or for many groups (`_sorted_in_scan` answers those)."""
        where, params = where_clause(scope)
        if not quantiles or not self._few_groups(keys, key_params, where, params):
            return {}
        return {
            column: self._submit(
                self._with_cursor, *_two_passes(keys, key_params, where, params, column, ms)
            )
            for column, ms in quantiles.items()
        }

    def _sorted_in_scan(
        self,
        quantiles: dict[str, list[Metric]],
        keys: list[tuple[str, str]],
        key_params: Sequence[Any],
        select: list[str],
        where: str,
        params: list[Any],
    ) -> list[dict[str, Any]]:
        """The grouped scan `SELECT select FROM events WHERE where GROUP BY keys` with each
        group's percentiles as `q_<column>`: by DuckDB's sort in the scan, or, when that needs
        more than DuckDB's memory limit (it cannot spill: by session at 10 M calls), by the two
        passes, which can (slower, but an answer instead of a 503). Runs on the query pool, so
        the fallback's passes run here one after the other: waiting for other pool tasks could
        deadlock it."""
        scan = f"FROM events WHERE {where}{group_by_sql(keys)}"
        all_params = [*key_params, *params]
        sorted_in = [in_scan_sql(column, [m.q for m in ms]) for column, ms in quantiles.items()]
        try:
            return self._records(f"SELECT {', '.join([*select, *sorted_in])} {scan}", all_params)
        except StoreUnavailable as exc:
            if not isinstance(exc.__cause__, duckdb.OutOfMemoryException):
                raise
        answers = {
            column: self._with_cursor(*_two_passes(keys, key_params, where, params, column, ms))
            for column, ms in quantiles.items()
        }
        rows = self._records(f"SELECT {', '.join(select)} {scan}", all_params)
        for row in rows:
            for column in quantiles:
                row[f"q_{column}"] = answers[column].get(key_of(row, keys))
        return rows

    def _few_groups(
        self, keys: list[tuple[str, str]], key_params: Sequence[Any], where: str, params: list[Any]
    ) -> bool:
        """Whether the two passes are the faster way: a store past SORT_IN_SCAN calls (counted
        from DuckDB's row groups, no scan), and a range whose 1 % block sample (whole vectors
        skipped: a few ms) shows at most FEW_GROUPS groups. A sample misses rare groups only,
        and those add few rows to pass 1."""
        stored = self._records("SELECT count(*) AS n FROM events", [])[0]["n"]
        if stored <= SORT_IN_SCAN:
            return False
        sampled = self._records(
            f"SELECT count(*) AS n FROM (SELECT DISTINCT {_named(keys)} FROM events "
            f"TABLESAMPLE 1% (system) WHERE {where})",
            [*key_params, *params],
        )
        return int(sampled[0]["n"]) <= FEW_GROUPS


def _two_passes(
    keys: list[tuple[str, str]],
    key_params: Sequence[Any],
    where: str,
    params: list[Any],
    column: str,
    ms: list[Metric],
) -> tuple[Any, ...]:
    """`exact_grouped_quantiles` and its arguments for one column, for `_with_cursor`."""
    qs = [m.q for m in ms]
    return exact_grouped_quantiles, keys, key_params, where, params, value_sql(column), qs


def key_of(record: dict[str, Any], keys: list[tuple[str, str]]) -> Key:
    """A scan row's group key: its values of `keys`' aliases, in order."""
    return tuple(record[alias] for alias, _ in keys)


def in_scan_sql(column: str, qs: Sequence[float]) -> str:
    """The percentiles `qs` of `column` per group by DuckDB (numpy's linear definition too), as
    a SELECT item of the grouped scan, named `q_<column>`."""
    listed = ", ".join(repr(float(q)) for q in qs)
    return f'quantile_cont({value_sql(column)}, [{listed}]) AS "q_{column}"'


def rows_without_scan(keys: list[tuple[str, str]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Nothing but percentiles answered beside the scan: the one row, or the groups with them."""
    if not keys:
        return [{}]
    found = sorted(
        {key for by_key in answers.values() for key in by_key},
        key=lambda key: tuple((v is None, 0 if v is None else v) for v in key),
    )
    return [dict(zip((alias for alias, _ in keys), key, strict=True)) for key in found]


def percentiles_of(
    record: dict[str, Any], column: str, keys: list[tuple[str, str]], answers: Any
) -> Any:
    """A row's percentiles of `column`: answered beside the scan (the range's, or its group's),
    or by the scan itself (`in_scan_sql`)."""
    if column not in answers:
        return record[f"q_{column}"]
    if not keys:
        return answers[column]
    return answers[column].get(key_of(record, keys))


def exact_grouped_quantiles(
    cur: duckdb.DuckDBPyConnection,
    keys: list[tuple[str, str]],
    key_params: Sequence[Any],
    where: str,
    params: Sequence[Any],
    column: str,
    qs: Sequence[float],
) -> dict[Key, list[float]]:
    """Group key -> the percentiles `qs` of `column` (numpy's linear definition) among the calls
    of the group matching `where`. `keys`: (alias, expression) of the groups, as in the scan
    beside; `key_params`: their parameters. Groups without a value of `column` are absent."""
    all_params = [*key_params, *params]
    cur.execute("BEGIN TRANSACTION")
    try:
        hist = _histograms(cur, keys, all_params, where, column)
        if hist.num_rows == 0:
            return {}
        gid = hist.column("gid").to_numpy()
        counts = hist.column("n").to_numpy().astype(np.int64)
        first = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])  # each group's first row
        ranks = rows_of_ranks(counts, first, qs)
        wanted = ranks.rows()
        values, starts = _values_of(cur, keys, hist, counts, wanted, all_params, where, column)
        group_keys = _keys_of(cur, keys, hist.take(pa.array(first)))
    finally:
        _end(cur)
    per_group = percentiles_of_rows(ranks, counts, len(first), wanted, values, starts)
    return {
        key: [float(v) for v in found] for key, found in zip(group_keys, per_group, strict=True)
    }


def _named(keys: list[tuple[str, str]]) -> str:
    """The keys as a SELECT list: `expression AS alias`, ..."""
    return ", ".join(f"{expr} AS {alias}" for alias, expr in keys)


def _histograms(
    cur: duckdb.DuckDBPyConnection,
    keys: list[tuple[str, str]],
    params: list[Any],
    where: str,
    column: str,
) -> pa.Table:
    """Pass 1: calls per (group, `floor(value)`), ordered by a dense group number `gid` and then
    by the bucket (a monotone map: ranks stay in bucket order)."""
    listed = ", ".join(alias for alias, _ in keys)
    return cur.sql(
        f"SELECT *, dense_rank() OVER (ORDER BY {listed}) - 1 AS gid FROM ("
        f"SELECT {_named(keys)}, floor({column}) AS b, count(*) AS n FROM events "
        f"WHERE {where} AND {column} IS NOT NULL{group_by_sql(keys, 'b')}) ORDER BY gid, b",
        params=params,
    ).to_arrow_table()


def _values_of(
    cur: duckdb.DuckDBPyConnection,
    keys: list[tuple[str, str]],
    hist: pa.Table,
    counts: np.ndarray,
    wanted: np.ndarray,
    params: list[Any],
    where: str,
    column: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: the values of the histogram rows `wanted` (sorted; `counts`: each row's calls),
    sorted within each row, and where each row's values start."""
    pairs = hist.take(pa.array(wanted)).drop_columns(["n", "gid"])
    pairs = pairs.append_column("w", pa.array(np.arange(len(wanted), dtype=np.int64)))
    b = hist.column("b").to_numpy()[wanted]
    same = " AND ".join(f"s.{alias} IS NOT DISTINCT FROM p.{alias}" for alias, _ in keys)
    cur.register("wanted_group_buckets", pairs)
    try:
        # The range of every wanted bucket first: DuckDB checks it inside its scan, so few calls
        # reach the join (a p95 lets ~1 % through).
        fetched = cur.execute(
            f"SELECT p.w AS w, s.v AS v FROM (SELECT {_named(keys)}, floor({column}) AS b, "
            f"{column} AS v FROM events WHERE {where} AND {column} >= ? AND {column} < ?) s "
            f"JOIN wanted_group_buckets p ON {same} AND s.b = p.b",
            [*params, float(b.min()), _above(float(b.max()))],
        ).fetchnumpy()
    finally:
        cur.unregister("wanted_group_buckets")
    w = np.asarray(fetched["w"], dtype=np.int64)
    v = np.asarray(fetched["v"], dtype=np.float64)
    order = np.lexsort((v, w))
    starts = np.searchsorted(w[order], np.arange(len(wanted) + 1))
    if not np.array_equal(np.diff(starts), counts[wanted]):  # one snapshot: cannot happen
        raise RuntimeError("the two passes of an exact percentile counted different calls")
    return v[order], starts[:-1]


def _above(bucket: float) -> float:
    """The least double past bucket `floor(x) = bucket`: bucket + 1, unless that is not a
    double of its own (from 2**53 on, every double is its own floor)."""
    return bucket + 1 if bucket + 1 != bucket else float(np.nextafter(bucket, np.inf))


def _keys_of(
    cur: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]], firsts: pa.Table
) -> list[Key]:
    """Each group's key values, converted by DuckDB as the scan beside converts them (so they
    match its rows' keys), in group order."""
    listed = ", ".join(alias for alias, _ in keys)
    cur.register("group_firsts", firsts)
    try:
        rows = cur.execute(f"SELECT {listed} FROM group_firsts ORDER BY gid").fetchall()
    finally:
        cur.unregister("group_firsts")
    return [tuple(r) for r in rows]


def _end(cur: duckdb.DuckDBPyConnection) -> None:
    # Read only: nothing to keep. Interrupted (a deadline), the transaction is gone already.
    with suppress(duckdb.Error):
        cur.execute("ROLLBACK")
