"""The newest call's time per project, kept in memory (a `KeptSummary`).

A dashboard's range ends now, so it cuts the day and the hour it ends in, and those cut parts
used to be counted from the calls: under heavy ingest they hold nearly every call of the range
(4 M of them after a minute at 60,000 calls/s). When no call of the range's projects is stamped
at or after its end, that day or hour holds nothing beyond the range, and its kept figures are
the range's own (`histograms.day_span(..., open_end=True)`). Deleting calls only makes the kept
time later than the truth, which costs a scan, never a wrong answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.store.duck.kept import KeptSummary

Latest = dict[str, int]  # project -> its newest call's time, in microseconds since 1970 (UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LatestCalls(KeptSummary[Latest, Latest]):
    columns = ("project", "timestamp")

    def summarise(self, calls: pa.Table) -> Latest:
        # One pass in Arrow, in the writer's commit (not a mask per project).
        stamps = pc.cast(calls["timestamp"], pa.timestamp("us")).cast(pa.int64())
        newest = (
            pa.table({"project": calls["project"], "t": stamps})
            .group_by("project")
            .aggregate([("t", "max")])
        )
        return dict(zip(newest["project"].to_pylist(), newest["t_max"].to_pylist(), strict=True))

    def fold(self, into: Latest, batch: Latest) -> None:
        for project, newest in batch.items():
            into[project] = max(into.get(project, newest), newest)


def scan_latest(cur: duckdb.DuckDBPyConnection) -> Latest:
    rows = cur.execute(
        "SELECT project, epoch_us(max(timestamp)) FROM events GROUP BY project"
    ).fetchall()
    return {str(project): int(newest) for project, newest in rows}


def none_from(kept: Latest, projects: tuple[str, ...] | None, end: datetime) -> bool:
    """No call of `projects` (None: any) at or after `end`."""
    end_us = (end - _EPOCH) // timedelta(microseconds=1)
    return all(t < end_us for p, t in kept.items() if projects is None or p in projects)
