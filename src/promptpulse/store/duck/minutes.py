"""The busiest minute (`rpm_peak`), the DuckDB way (a mixin of DuckStore).

Every overview asks for it, and the answer is a count of calls per minute over the whole range:
a scan of every call in it (50 ms at 10 M calls, a third of the default overview). So the calls
per (project, UTC minute) are also kept in memory (`MinuteCounts`, a `KeptSummary`): about
130 k minutes per project in 90 days, 16 bytes each. Ranges filtered on nothing but the project
read them; the whole minutes at either end that the range cuts are counted from the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import PeakRow, Scope
from promptpulse.store.duck.kept import KeptSummary, add_up
from promptpulse.store.duck.sql import Record, naive_utc, where_clause

# The minute of a call as an integer (grouping by it is ~1.5x faster than by date_trunc's
# timestamp), counted from 0001-01-01 so that integer division (which truncates) is a floor.
EPOCH_OFFSET_US = 62_135_596_800_000_000
MINUTE_US = 60_000_000
MINUTE_NUMBER = f"(epoch_us(timestamp) + {EPOCH_OFFSET_US}) // {MINUTE_US}"
_EPOCH = datetime(1970, 1, 1)


@dataclass
class Minutes:
    """One project's calls per minute: sorted minute numbers and their counts, plus commits not
    merged in yet (merged by the next reader: commits come far more often than questions)."""

    minutes: np.ndarray
    counts: np.ndarray
    unmerged: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def merged(self) -> Minutes:
        if self.unmerged:
            self.minutes, self.counts = add_up(
                np.concatenate([self.minutes, *(m for m, _ in self.unmerged)]),
                np.concatenate([self.counts, *(c for _, c in self.unmerged)]),
            )
            self.unmerged = []
        return self

    def between(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Minutes in [first, stop) and their counts."""
        lo, hi = np.searchsorted(self.minutes, [first, stop])
        return self.minutes[lo:hi], self.counts[lo:hi]


PerProject = dict[str, Minutes]


class MinuteCounts(KeptSummary[PerProject, PerProject]):
    """Calls per (project, UTC minute)."""

    columns = ("project", "timestamp")

    def summarise(self, calls: pa.Table) -> PerProject:
        stamps = pc.cast(calls["timestamp"], pa.timestamp("us")).cast(pa.int64())
        minutes = (np.asarray(stamps, dtype=np.int64) + EPOCH_OFFSET_US) // MINUTE_US
        projects = calls["project"]
        names = pc.unique(projects).to_pylist()
        out: PerProject = {}
        for project in names:
            mine = minutes if len(names) == 1 else minutes[np.asarray(pc.equal(projects, project))]
            out[str(project)] = Minutes(*add_up(mine, np.ones(len(mine), np.int64)))
        return out

    def fold(self, into: PerProject, batch: PerProject) -> None:
        for project, more in batch.items():
            if project in into:
                into[project].unmerged.append((more.minutes, more.counts))
            else:
                into[project] = more


def minute_number(t: datetime) -> int:
    """The minute `t` (naive UTC) falls in."""
    return ((t - _EPOCH) // timedelta(microseconds=1) + EPOCH_OFFSET_US) // MINUTE_US


def minute_start(n: int) -> datetime:
    return _EPOCH + timedelta(microseconds=n * MINUTE_US - EPOCH_OFFSET_US)


class MinutesMixin:
    _records: Callable[[str, Sequence[Any]], list[Record]]
    _with_cursor: Callable[..., Any]
    _minute_counts: MinuteCounts

    def _kept_peak(self, scope: Scope) -> list[PeakRow] | None:
        """The busiest minute of a range filtered on the project only (None otherwise): whole
        minutes from the kept counts, the cut minutes at either end from the calls."""
        if any(f.dimension != "project" for f in scope.filters):
            return None
        start, end = naive_utc(scope.start), naive_utc(scope.end)
        first = minute_number(start) + (minute_start(minute_number(start)) < start)
        stop = minute_number(end)  # the minute `end` falls in is cut (or empty) either way
        if first >= stop:
            return None  # no whole minute inside: the raw query is as cheap
        projects = scope.filter_values("project")

        def busiest(kept: PerProject) -> int:
            chosen = kept.values() if projects is None else (kept.get(p) for p in projects)
            parts = [m.merged().between(first, stop) for m in chosen if m is not None]
            if not parts:
                return 0
            _, counts = add_up(
                np.concatenate([m for m, _ in parts]), np.concatenate([c for _, c in parts])
            )
            return int(counts.max()) if len(counts) else 0

        peak = self._minute_counts.read(self._scan_minute_counts, busiest)
        for cut_start, cut_end in ((start, minute_start(first)), (minute_start(stop), end)):
            if cut_start < cut_end:
                peak = max(peak, self._count_between(scope, cut_start, cut_end))
        return [PeakRow(peak, ())]

    def _count_between(self, scope: Scope, start: datetime, end: datetime) -> int:
        where, params = where_clause(
            Scope(start.replace(tzinfo=UTC), end.replace(tzinfo=UTC), scope.filters)
        )
        return int(self._records(f"SELECT count(*) AS n FROM events WHERE {where}", params)[0]["n"])

    def _scan_minute_counts(self) -> PerProject:
        return self._with_cursor(_scan)  # type: ignore[no-any-return]


def _scan(cur: duckdb.DuckDBPyConnection) -> PerProject:
    found = cur.execute(
        f"SELECT project, {MINUTE_NUMBER} AS m, count(*) AS n FROM events "
        "GROUP BY ALL ORDER BY project, m"
    ).fetchnumpy()
    projects = np.asarray(found["project"], dtype=object)
    if not len(projects):
        return {}
    minutes = np.asarray(found["m"], dtype=np.int64)
    counts = np.asarray(found["n"], dtype=np.int64)
    # Rows are sorted by project: each project's run starts where the name changes.
    starts = [0, *(np.flatnonzero(projects[1:] != projects[:-1]) + 1), len(projects)]
    return {
        str(projects[a]): Minutes(minutes[a:b].copy(), counts[a:b].copy())
        for a, b in pairwise(starts)
    }
