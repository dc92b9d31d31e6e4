"""Calls per (project, UTC day, 1-unit value bucket) of latency and TTFT kept in memory: the
first pass of an exact percentile (quantiles.py) without a scan of the calls.

An exact percentile of a range is two scans of its calls: a histogram of `floor(value)` finds the
buckets that hold the wanted ranks, then the values of those buckets alone are fetched and
sorted. The histogram is the costlier pass (45 ms of CPU for latency at 10 M calls), and its
counts per whole day change only when calls arrive or are deleted: so they are kept
(`DayHistograms`, a `KeptSummary`, in numpy arrays: a few MB per project and month), for ranges
filtered on the project only. The cut days at either end come from the calls. The second pass
still reads the calls: the answer is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import Scope
from promptpulse.store.duck.kept import KeptSummary, add_up
from promptpulse.store.duck.minutes import EPOCH_OFFSET_US
from promptpulse.store.duck.quantiles import Histogram, histogram
from promptpulse.store.duck.sql import naive_utc, where_clause
from promptpulse.store.rollup_plan import QUANTILE_COLUMNS, ceil_to, floor_to

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
_EPOCH = datetime(1970, 1, 1)


def unit_number_sql(unit_us: int) -> str:
    """The UTC day or hour number of `timestamp` since 1970, counted from 0001-01-01 first so
    that the division floors as numpy's does."""
    return f"(epoch_us(timestamp) + {EPOCH_OFFSET_US}) // {unit_us} - {EPOCH_OFFSET_US // unit_us}"


# The hourly histograms are built a week of calls at a time: one GROUP BY over every (project,
# hour, bucket) of a busy month holds a million groups at once (~180 MB more at the server's
# peak at 10 M calls).
HOUR_SCAN_WINDOW = timedelta(days=7)
DAY_NUMBER_SQL = unit_number_sql(DAY_US)
HOUR_NUMBER_SQL = unit_number_sql(HOUR_US)
# (project, column) -> UTC day number -> that day's histograms (merged into one when read).
PerDay = dict[tuple[str, str], dict[int, list[Histogram]]]


def sum_histograms(parts: list[Histogram]) -> Histogram:
    """Histograms of disjoint calls, as one."""
    if not parts:
        return np.empty(0), np.empty(0, np.int64)
    return add_up(np.concatenate([b for b, _ in parts]), np.concatenate([n for _, n in parts]))


_UNIT = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


def unit_number(t: datetime, level: str = "day") -> int:
    """The UTC day or hour of `t`, counted from 1970-01-01."""
    return (naive_utc(t) - _EPOCH) // _UNIT[level]


def unit_start(number: int, level: str = "day") -> datetime:
    """The start of a UTC day or hour number, as an aware time."""
    return (_EPOCH + number * _UNIT[level]).replace(tzinfo=UTC)


@dataclass(frozen=True)
class DaySpan:
    """What summaries kept per UTC day (or hour) answer of a range, and what the calls must."""

    first: int  # the whole units [first, stop), as unit numbers
    stop: int
    cuts: tuple[Scope, ...]  # the parts of the range before and after them


def day_span(scope: Scope, level: str = "day", open_end: bool = False) -> DaySpan | None:
    """The whole UTC days (or hours) of a range filtered on the project only (None for other
    filters or a range without a whole one), and its cut parts at either end. `open_end`: no
    call of the range is stamped at or after its end (`_open_end`, latest.py), so the unit it
    ends in counts as whole too: its kept figures are the range's own."""
    if any(f.dimension != "project" for f in scope.filters):
        return None
    first = ceil_to(scope.start, level)
    stop = ceil_to(scope.end, level) if open_end else floor_to(scope.end, level)
    if first >= stop:
        return None
    cuts = tuple(
        Scope(a, b, scope.filters) for a, b in ((scope.start, first), (stop, scope.end)) if a < b
    )
    return DaySpan(unit_number(first, level), unit_number(stop, level), cuts)


class DayHistograms(KeptSummary[PerDay, PerDay]):
    """Calls per (project, UTC day, column, floor(value)) of the percentile columns."""

    columns = ("project", "timestamp", *QUANTILE_COLUMNS)
    unit_us = DAY_US

    def summarise(self, calls: pa.Table) -> PerDay:
        stamps = pc.cast(calls["timestamp"], pa.timestamp("us")).cast(pa.int64())
        days = np.asarray(stamps, dtype=np.int64) // self.unit_us
        names = pc.unique(calls["project"]).to_pylist()
        # NULL as NaN (a float column's nulls), then left out like the SQL's IS NOT NULL.
        columns = {
            c: np.asarray(pc.fill_null(calls[c].cast(pa.float64()), np.nan), dtype=np.float64)
            for c in QUANTILE_COLUMNS
        }
        out: PerDay = {}
        for project in names:
            mine = None if len(names) == 1 else np.asarray(pc.equal(calls["project"], project))
            for column, values in columns.items():
                d, v = (days, values) if mine is None else (days[mine], values[mine])
                known = ~np.isnan(v)
                out[(str(project), column)] = _by_day(d[known], np.floor(v[known]))
        return out

    def fold(self, into: PerDay, batch: PerDay) -> None:
        for key, days in batch.items():
            kept = into.setdefault(key, {})
            for day, hists in days.items():
                kept.setdefault(day, []).extend(hists)


class HourHistograms(DayHistograms):
    """The same per UTC hour: pass 1 of the exact percentiles of an hourly series (hourly.py).
    About 0.5 MB per column and project-day at 300,000 calls a day."""

    unit_us = HOUR_US


def _by_day(
    days: np.ndarray, buckets: np.ndarray, counts: np.ndarray | None = None
) -> dict[int, list[Histogram]]:
    """Histograms per day of (day, bucket[, count]) rows (one call each without counts)."""
    if not len(days):
        return {}
    order = np.lexsort((buckets, days))
    days, buckets = days[order], buckets[order]
    if counts is None:  # one row per call: count the runs of equal (day, bucket)
        starts = np.flatnonzero(
            np.concatenate([[True], (np.diff(days) != 0) | (np.diff(buckets) != 0)])
        )
        counts = np.diff(np.append(starts, len(days)))
        days, buckets = days[starts], buckets[starts]
    else:
        counts = np.asarray(counts, np.int64)[order]
    buckets, counts = _narrow(buckets), _narrow(counts)
    edges = np.flatnonzero(np.diff(days)) + 1
    return {
        int(d[0]): [(b, n)]
        for d, b, n in zip(
            np.split(days, edges), np.split(buckets, edges), np.split(counts, edges), strict=True
        )
        if len(d)
    }


def _narrow(values: np.ndarray) -> np.ndarray:
    """Whole numbers as 4-byte integers where they fit: the kept hour histograms of 10 M calls
    hold 2.4 M (bucket, count) pairs, 37 MB in 8-byte numbers and 18 MB so (readers widen them
    as numpy mixes them with others)."""
    if len(values) and values.min() >= -(2**31) and values.max() < 2**31:
        return values.astype(np.int32)  # buckets are floor()s: whole already
    return values


def _counts(
    kept: PerDay, projects: tuple[str, ...] | None, column: str, first: int, stop: int
) -> Histogram:
    return sum_histograms(list(_per_unit(kept, projects, column, first, stop).values()))


class HistogramsMixin:
    _with_cursor: Callable[..., Any]
    _day_histograms: DayHistograms
    _hour_histograms: HourHistograms
    _open_end: Callable[[Scope], bool]  # no call at or after the range's end (lifecycle.py)

    def _kept_histogram(self, scope: Scope, column: str) -> Histogram | None:
        """Pass 1 of `column`'s exact percentiles over a range filtered on the project only
        (None otherwise, or for a column not kept, or a range without a whole hour): whole days
        from the day histograms, the whole hours of the cut days from the hour histograms, the
        cut hours at either end from the calls."""
        open_end = self._open_end(scope)
        if column not in QUANTILE_COLUMNS or day_span(scope, "hour", open_end) is None:
            return None
        projects = scope.filter_values("project")
        parts: list[Histogram] = []
        days = day_span(scope, "day", open_end)
        if days is not None:
            first, stop = days.first, days.stop
            parts.append(
                self._day_histograms.read(
                    self._scan_day_histograms,
                    lambda kept: _counts(kept, projects, column, first, stop),
                )
            )
        for cut in (scope,) if days is None else days.cuts:
            hours = day_span(cut, "hour", open_end and cut.end == scope.end)
            if hours is not None:
                parts.append(
                    self._hour_histograms.read(
                        self._scan_hour_histograms,
                        partial(_counts, projects=projects, column=column,
                                first=hours.first, stop=hours.stop),
                    )
                )  # fmt: skip
            for edge in (cut,) if hours is None else hours.cuts:
                where, params = where_clause(edge)
                parts.append(self._with_cursor(histogram, where, params, column))
        return sum_histograms(parts)

    def _kept_hour_histograms(self, scope: Scope, column: str) -> dict[int, Histogram] | None:
        """Pass 1 of `column`'s exact percentiles per UTC hour (hour number -> histogram; hours
        without a value absent) over a range filtered on the project only that holds a whole
        hour (None otherwise): whole hours kept, the cut hours at either end from the calls."""
        span = day_span(scope, "hour", self._open_end(scope))
        if column not in QUANTILE_COLUMNS or span is None:
            return None
        projects = scope.filter_values("project")
        per_hour: dict[int, Histogram] = self._hour_histograms.read(
            self._scan_hour_histograms,
            lambda kept: _per_unit(kept, projects, column, span.first, span.stop),
        )
        for cut in span.cuts:
            where, params = where_clause(cut)
            hist = self._with_cursor(histogram, where, params, column)
            if len(hist[0]):
                per_hour[unit_number(cut.start, "hour")] = hist
        return per_hour

    def _scan_day_histograms(self) -> PerDay:
        return self._with_cursor(_scan, DAY_NUMBER_SQL)  # type: ignore[no-any-return]

    def _scan_hour_histograms(self) -> PerDay:
        return self._with_cursor(_scan, HOUR_NUMBER_SQL, HOUR_SCAN_WINDOW)  # type: ignore[no-any-return]


def _per_unit(
    kept: PerDay, projects: tuple[str, ...] | None, column: str, first: int, stop: int
) -> dict[int, Histogram]:
    """Each unit's histogram in [first, stop), summed over the projects."""
    parts: dict[int, list[Histogram]] = {}
    for (project, col), units in kept.items():
        if col != column or (projects is not None and project not in projects):
            continue
        for unit, hists in units.items():
            if first <= unit < stop:
                if len(hists) > 1:  # commits since the last read: merge them for good
                    hists[:] = [sum_histograms(hists)]
                parts.setdefault(unit, []).append(hists[0])
    return {u: p[0] if len(p) == 1 else sum_histograms(p) for u, p in parts.items()}


def _scan(
    cur: duckdb.DuckDBPyConnection, number_sql: str, window: timedelta | None = None
) -> PerDay:
    """Every stored call's histograms per unit (day or hour), `window` of time at a time (one
    query without it). Windows start on whole days, so no unit is split between two."""
    out: PerDay = {}
    spans: list[tuple[str, list[Any]]] = [("TRUE", [])]
    if window is not None:
        row = cur.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchone()
        spans = []
        if row is not None and row[0] is not None:
            start = row[0].replace(hour=0, minute=0, second=0, microsecond=0)
            while start <= row[1]:
                spans.append(("timestamp >= ? AND timestamp < ?", [start, start + window]))
                start += window
    for column in QUANTILE_COLUMNS:
        for span, params in spans:
            found = cur.execute(
                f"SELECT project, {number_sql} AS d, floor({column}) AS b, count(*) AS n "
                f"FROM events WHERE {span} AND {column} IS NOT NULL GROUP BY ALL",
                params,
            ).fetchnumpy()
            projects = np.asarray(found["project"], dtype=object)
            for project in np.unique(projects) if len(projects) else []:
                mine = projects == project
                out.setdefault((str(project), column), {}).update(
                    _by_day(
                        np.asarray(found["d"], np.int64)[mine],
                        np.asarray(found["b"], np.float64)[mine],
                        np.asarray(found["n"], np.int64)[mine],
                    )
                )
    return out
