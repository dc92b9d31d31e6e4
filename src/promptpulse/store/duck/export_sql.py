"""The SELECTs of exports from DuckDB: calls, scores, and rollup rows with their fragments
merged (`Store.export_batches`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptpulse.model import Scope
from promptpulse.store.duck.rollup_sql import DIMS, merge_agg
from promptpulse.store.duck.sql import filter_clause, naive_utc, where_clause
from promptpulse.store.rollup_plan import ROLLUP_AGGS, ROLLUP_DIMENSIONS, agg_column

ROLLUP_EXPORT_COLUMNS: tuple[str, ...] = (
    "bucket",
    *ROLLUP_DIMENSIONS,
    *(agg_column(a) for a in ROLLUP_AGGS),
)


def export_select(
    source: str, columns: Sequence[str], scope: Scope, time_column: str = "timestamp"
) -> tuple[str, list[Any]]:
    """The SELECT of an export: calls in time order, scores in arrival order (only the scope's
    range, on `received_at`, and its projects apply to them), or rollup rows (fragments merged)."""
    if source == "scores":
        projects = scope.filter_values("project")
        where = "received_at >= ? AND received_at < ?"
        params: list[Any] = [naive_utc(scope.start), naive_utc(scope.end)]
        if projects is not None:
            where += f" AND project IN ({', '.join('?' for _ in projects)})"
            params += list(projects)
        return (
            f"SELECT {', '.join(columns)} FROM scores WHERE {where} "
            "ORDER BY received_at, project, id",
            params,
        )
    if source == "calls":
        where, params = where_clause(scope, time_column=time_column)
        return (
            f"SELECT {', '.join(columns)} FROM events WHERE {where} "
            "ORDER BY timestamp, project, id",
            params,
        )
    params = [naive_utc(scope.start), naive_utc(scope.end)]
    level = {"hourly": "hour", "daily": "day"}[source]
    filt, fparams = filter_clause(scope)
    aggs = ", ".join(f"{merge_agg(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS)
    rows = f"SELECT * FROM rollup_{level}"
    if level == "day":  # with hourly fragments not yet folded into their days
        cols = ", ".join(f"{c}" for c in ("compacted", *(agg_column(a) for a in ROLLUP_AGGS)))
        rows += (
            f" UNION ALL SELECT date_trunc('day', bucket) AS bucket, {DIMS}, {cols} "
            "FROM rollup_hour WHERE NOT compacted"
        )
    inner = (
        f"SELECT bucket, {DIMS}, {aggs} FROM ({rows}) WHERE bucket >= ? AND bucket < ? "
        f"AND {filt} GROUP BY bucket, {DIMS}"
    )
    return (
        f"SELECT {', '.join(columns)} FROM ({inner}) ORDER BY bucket, {DIMS}",
        params + fparams,
    )


def export_count(
    source: str, scope: Scope, time_column: str = "timestamp"
) -> tuple[str, list[Any]]:
    select, params = export_select(
        source, ["bucket"] if source in ("hourly", "daily") else ["1"], scope, time_column
    )
    return f"SELECT count(*) FROM ({select})", params
