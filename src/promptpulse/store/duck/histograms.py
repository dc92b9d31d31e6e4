"""Calls per (project, UTC day, 1-unit value bucket) of latency and TTFT kept in memory: the
first pass of an exact percentile (quantiles.py) without a scan of the calls.

An exact percentile of a range is two scans of its calls: a histogram of `floor(value)` finds the
buckets that hold the wanted ranks, then the values of those buckets alone are fetched and
sorted. The histogram is the costlier pass (45 ms of CPU for latency at 10 M calls), and its
counts per whole day never change until calls are deleted or arrive: so they are kept
(`DayHistograms`, a `KeptSummary`), for ranges filtered on the project only. The cut days at
either end come from the calls. The second pass still reads the calls: the answer is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from promptpulse.model import Scope
from promptpulse.store.duck.fragments import FragmentTable, summarise
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.quantiles import Histogram, histogram, sum_histograms
from promptpulse.store.duck.sql import naive_utc, where_clause
from promptpulse.store.rollup_plan import QUANTILE_COLUMNS, ceil_to, floor_to

_SUMMARY = " UNION ALL ".join(
    f"SELECT project, date_trunc('day', timestamp) AS bucket, '{c}' AS col, floor({c}) AS b, "
    f"count(*) AS n FROM {{0}} WHERE {c} IS NOT NULL GROUP BY ALL"
    for c in QUANTILE_COLUMNS
)


def day_table() -> FragmentTable:
    return FragmentTable("col VARCHAR, b DOUBLE, n BIGINT", ("col", "b"), "sum(n) AS n")


class DayHistograms(KeptSummary[FragmentTable, pa.Table]):
    """Calls per (project, UTC day, column, floor(value)) of the percentile columns."""

    columns = ("project", "timestamp", *QUANTILE_COLUMNS)

    def summarise(self, calls: pa.Table) -> pa.Table:
        return summarise(calls, _SUMMARY.format("calls"))

    def fold(self, into: FragmentTable, batch: pa.Table) -> None:
        into.add(batch)


class HistogramsMixin:
    _with_cursor: Callable[..., Any]
    _day_histograms: DayHistograms

    def _kept_histogram(self, scope: Scope, column: str) -> Histogram | None:
        """Pass 1 of `column`'s exact percentiles over a range filtered on the project only
        (None otherwise, or for a column not kept, or a range without a whole day)."""
        if column not in QUANTILE_COLUMNS:
            return None
        if any(f.dimension != "project" for f in scope.filters):
            return None
        first, stop = ceil_to(scope.start, "day"), floor_to(scope.end, "day")
        if first >= stop:
            return None
        projects = scope.filter_values("project")
        lo, hi = naive_utc(first), naive_utc(stop)

        def counts(table: FragmentTable) -> Histogram:
            rows = table.select("b, sum(n)", projects, lo, hi, "AND col = ? GROUP BY b", [column])
            return (
                np.asarray([r[0] for r in rows], dtype=np.float64),
                np.asarray([r[1] for r in rows], dtype=np.int64),
            )

        parts = [self._day_histograms.read(self._scan_day_histograms, counts)]
        for cut_start, cut_end in ((scope.start, first), (stop, scope.end)):
            if cut_start < cut_end:
                where, params = where_clause(Scope(cut_start, cut_end, scope.filters))
                parts.append(self._with_cursor(histogram, where, params, column))
        return sum_histograms(parts)

    def _scan_day_histograms(self) -> FragmentTable:
        table = day_table()
        sql = _SUMMARY.format("events")
        table.add(self._with_cursor(lambda cur: cur.sql(sql).to_arrow_table()))
        return table
