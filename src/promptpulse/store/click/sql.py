"""ClickHouse's dialect for the floor's values: bound parameters, the one WHERE compiler (range,
column filters, tags, `metadata.<key>`), base aggregates and conversions of what comes back.
Every ClickHouse query of calls takes its WHERE from here, and reads `EVENTS` (deduplicated)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import (
    CALL_FIELDS,
    COLUMN_DIMENSIONS,
    Agg,
    Dimension,
    Op,
    Scope,
)

# Every read of calls: FINAL collapses copies of one (project, id) that reached the table in
# two inserts (two replicas at the same moment) before a background merge did.
EVENTS = "events FINAL"
SCORES = "scores FINAL"
TIME = "DateTime64(6, 'UTC')"

CONDITION_SQL: dict[str, str] = {
    "success": "status = 'success'",
    "error": "status = 'error'",
    "unpriced": "cost_usd IS NULL",
    "cache_hit": "cache_hit",
}

BUCKET_SQL: dict[str, str] = {  # UTC buckets; ISO weeks start on Monday
    "minute": "toStartOfMinute({c})",
    "hour": "toStartOfHour({c})",
    "day": "toStartOfDay({c})",
    "week": "toDateTime(toMonday({c}), 'UTC')",
    "month": "toDateTime(toStartOfMonth({c}), 'UTC')",
}


Record = dict[str, Any]


class Params(dict[str, Any]):
    """Server-side bound parameters (`{p0:Type}`): values never enter the SQL text."""

    def add(self, value: Any, type_: str) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"{{{name}:{type_}}}"

    def time(self, t: datetime) -> str:
        return self.add(naive_utc(t).strftime("%Y-%m-%d %H:%M:%S.%f"), TIME)

    def text(self, value: str) -> str:
        return self.add(value, "String")

    def texts(self, values: Iterable[str]) -> str:
        return self.add(list(values), "Array(String)")


def naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def aware_utc(t: Any) -> datetime | None:
    if t is None:
        return None
    if not isinstance(t, datetime):  # a Date bucket
        t = datetime(t.year, t.month, t.day)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def bucket_sql(interval: str, column: str = "timestamp") -> str:
    if interval not in BUCKET_SQL:
        raise ValueError(f"not an interval: {interval}")
    return BUCKET_SQL[interval].format(c=column)


def dimension_sql(dimension: Dimension) -> str:
    if dimension.is_metadata:
        # Dimension() admits only keys of [A-Za-z0-9_-.:/ ], so inlining the key is safe. A key
        # is one key, never a path; a string is its value, other JSON its text, null no value.
        k = f"'{dimension.metadata_key}'"
        return (
            f"multiIf(JSONType(metadata, {k}) = 'String', JSONExtractString(metadata, {k}), "
            f"JSONType(metadata, {k}) = 'Null', NULL, JSONExtractRaw(metadata, {k}))"
        )
    if dimension.name not in COLUMN_DIMENSIONS:
        raise ValueError(f"not a dimension: {dimension.name}")
    return dimension.name


def filter_clause(scope: Scope, params: Params) -> str:
    """The scope's filters alone (for tables keyed by dimensions, such as rollups)."""
    parts: list[str] = []
    for f in scope.filters:
        values = params.texts(f.values)
        if f.dimension == "tag":
            parts.append(f"hasAny(tags, {values})")
        else:
            parts.append(f"{dimension_sql(Dimension(f.dimension))} IN {values}")
    return " AND ".join(parts) or "1"


def where_clause(scope: Scope, params: Params, time_column: str = "timestamp") -> str:
    """SQL condition for a scope: half-open range, then the filters."""
    where = (
        f"{time_column} >= {params.time(scope.start)} AND {time_column} < {params.time(scope.end)}"
    )
    filters = filter_clause(scope, params)
    return where if filters == "1" else f"{where} AND {filters}"


def score_where(scope: Scope, params: Params) -> str:
    """Scores of a scope: its range on `received_at` (a score's own time is optional) and its
    projects; the other filters are call dimensions, which scores do not have."""
    where = f"received_at >= {params.time(scope.start)} AND received_at < {params.time(scope.end)}"
    projects = scope.filter_values("project")
    return where if projects is None else f"{where} AND project IN {params.texts(projects)}"


def agg_sql(agg: Agg) -> str:
    """A base aggregate of the catalog in ClickHouse's dialect (NULL, not 0, for no max)."""
    if agg.op is Op.COUNT:
        return "count()"
    if agg.op is Op.COUNT_IF:
        return f"countIf({CONDITION_SQL[agg.arg]})"
    column = agg.arg
    if column not in CALL_FIELDS:
        raise ValueError(f"not a call field: {column}")
    return {
        Op.COUNT_VALUES: f"count({column})",
        Op.SUM: f"sum({column})",
        Op.MAX: f"maxOrNull({column})",
        Op.DISTINCT: f"count(DISTINCT {column})",
    }[agg.op]


def py(value: Any) -> Any:
    """NaN (ClickHouse's empty float aggregate) as None; numpy scalars as Python numbers."""
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, (int, float, str, bool, datetime)):
        return value
    return float(value)


def floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A fetched column as float64 with NULL as NaN."""
    filled = pc.fill_null(pc.cast(column, pa.float64()), np.nan)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.float64)
