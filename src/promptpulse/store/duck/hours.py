"""Counts and sums per (project, UTC hour) kept in memory, the DuckDB way (a mixin of DuckStore).

The overview's counts and sums (calls, errors, tokens, cost, latency mean...) are one scan of
every call in the range: 65 ms of CPU at 10 M calls, for a figure every dashboard shows. The
rollup tables hold them too, but per (hour, eight dimensions): on sparse traffic that is about a
row per call. So the same aggregates per (project, hour) are also kept (`HourTotals`, a
`KeptSummary`) in a small in-memory DuckDB table, about 2,200 rows per project in 90 days.
Ranges filtered on nothing but the project read the whole hours from it and the cut hours at
either end from the calls: the answer is exact, the same as a scan of the calls.

Reprices change costs, so they throw the summary away too (as retention and erasure do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from promptpulse.model import Agg, Op, Scope
from promptpulse.store.duck.fragments import FragmentTable, summarise
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.rollup_sql import agg_type, build_agg, merge_agg
from promptpulse.store.duck.sql import Record, agg_sql, naive_utc, where_clause
from promptpulse.store.rollup_plan import ROLLUP_AGGS, agg_column, ceil_to, floor_to

# The calls' columns the aggregates read (the conditions read status, cost_usd and cache_hit).
COLUMNS = tuple(
    dict.fromkeys(
        ["project", "timestamp", "status", "cost_usd", "cache_hit"]
        + [a.arg for a in ROLLUP_AGGS if a.op not in (Op.COUNT, Op.COUNT_IF) and a.arg]
    )
)
_AGGS = ", ".join(f"{build_agg(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS)
_SUMMARY = (
    f"SELECT project, date_trunc('hour', timestamp) AS bucket, {_AGGS} FROM {{}} GROUP BY ALL"
)


def hour_table() -> FragmentTable:
    """The kept totals: fragments (project, hour, aggregates), many per hour until merged."""
    return FragmentTable(
        ", ".join(f"{agg_column(a)} {agg_type(a)}" for a in ROLLUP_AGGS),
        (),
        ", ".join(f"{merge_agg(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS),
    )


class HourTotals(KeptSummary[FragmentTable, pa.Table]):
    """Counts and sums of the calls per (project, UTC hour)."""

    columns = COLUMNS

    def summarise(self, calls: pa.Table) -> pa.Table:
        return summarise(calls, _SUMMARY.format("calls"))

    def fold(self, into: FragmentTable, batch: pa.Table) -> None:
        into.add(batch)


def merge(agg: Agg, a: Any, b: Any) -> Any:
    """Two values of one aggregate over disjoint calls, as one (NULL: no values)."""
    if a is None or b is None:
        return b if a is None else a
    return max(a, b) if agg.op is Op.MAX else a + b


class HoursMixin:
    _records: Callable[[str, Sequence[Any]], list[Record]]
    _with_cursor: Callable[..., Any]
    _hour_totals: HourTotals

    def _kept_totals(self, scope: Scope, aggs: Sequence[Agg]) -> list[Any] | None:
        """`aggs` over a range filtered on the project only (None otherwise, or when one is not
        kept, or the range holds no whole hour): whole hours from the kept totals, the cut hours
        at either end from the calls."""
        if any(f.dimension != "project" for f in scope.filters):
            return None
        if not aggs or any(a not in ROLLUP_AGGS for a in aggs):
            return None
        first, stop = ceil_to(scope.start, "hour"), floor_to(scope.end, "hour")
        if first >= stop:
            return None
        projects = scope.filter_values("project")
        select = ", ".join(merge_agg(a) for a in aggs)
        values = self._hour_totals.read(
            self._scan_hour_totals,
            lambda table: list(
                table.select(select, projects, naive_utc(first), naive_utc(stop))[0]
            ),
        )
        for cut_start, cut_end in ((scope.start, first), (stop, scope.end)):
            if cut_start < cut_end:
                cut = self._raw_totals(Scope(cut_start, cut_end, scope.filters), aggs)
                values = [merge(a, v, c) for a, v, c in zip(aggs, values, cut, strict=True)]
        return values

    def _raw_totals(self, scope: Scope, aggs: Sequence[Agg]) -> list[Any]:
        where, params = where_clause(scope)
        select = ", ".join(f"{agg_sql(a)} AS a{i}" for i, a in enumerate(aggs))
        row = self._records(f"SELECT {select} FROM events WHERE {where}", params)[0]
        return [row[f"a{i}"] for i in range(len(aggs))]

    def _scan_hour_totals(self) -> FragmentTable:
        table = hour_table()
        table.add(
            self._with_cursor(lambda cur: cur.sql(_SUMMARY.format("events")).to_arrow_table())
        )
        return table
