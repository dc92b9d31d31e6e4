"""DuckDB's dialect for the floor's values: the one WHERE compiler (range, column filters, tags,
`metadata.<key>`), base aggregates and conditions, and conversions of what DuckDB hands back.
Every DuckDB query of calls takes its WHERE from here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np

from promptpulse.model import (
    CALL_FIELDS,
    COLUMN_DIMENSIONS,
    Agg,
    Dimension,
    Op,
    Scope,
)

CONDITION_SQL: dict[str, str] = {
    "success": "status = 'success'",
    "error": "status = 'error'",
    "unpriced": "cost_usd IS NULL",
    "cache_hit": "cache_hit",
}


Record = dict[str, Any]


def naive_utc(t: datetime) -> datetime:
    """DuckDB's TIMESTAMP holds UTC without an offset."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def aware_utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=UTC) if t.tzinfo is None else t


def dimension_sql(dimension: Dimension, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    if dimension.is_metadata:
        # Dimension() admits only keys of [A-Za-z0-9_-.:/ ], so inlining the key is safe.
        return f"json_extract_string({p}metadata, '$.\"{dimension.metadata_key}\"')"
    if dimension.name not in COLUMN_DIMENSIONS:
        raise ValueError(f"not a dimension: {dimension.name}")
    return p + dimension.name


def filter_clause(scope: Scope, alias: str = "") -> tuple[str, list[Any]]:
    """The scope's filters alone (for tables keyed by dimensions, such as rollups)."""
    p = f"{alias}." if alias else ""
    parts: list[str] = []
    params: list[Any] = []
    for f in scope.filters:
        marks = ", ".join("?" for _ in f.values)
        if f.dimension == "tag":
            parts.append(f"list_has_any({p}tags, [{marks}]::VARCHAR[])")
        else:
            parts.append(f"{dimension_sql(Dimension(f.dimension), alias)} IN ({marks})")
        params.extend(f.values)
    return " AND ".join(parts) or "TRUE", params


def where_clause(
    scope: Scope, alias: str = "", time_column: str = "timestamp"
) -> tuple[str, list[Any]]:
    """SQL condition and parameters for a scope: half-open range, then the filters."""
    p = f"{alias}." if alias else ""
    filters, params = filter_clause(scope, alias)
    where = f"{p}{time_column} >= ? AND {p}{time_column} < ?"
    if filters != "TRUE":
        where += f" AND {filters}"
    return where, [naive_utc(scope.start), naive_utc(scope.end), *params]


def agg_sql(agg: Agg) -> str:
    """A base aggregate of the catalog in DuckDB's dialect."""
    if agg.op is Op.COUNT:
        return "count(*)"
    if agg.op is Op.COUNT_IF:
        return f"count_if({CONDITION_SQL[agg.arg]})"
    column = agg.arg
    if column not in CALL_FIELDS:
        raise ValueError(f"not a call field: {column}")
    return {
        Op.COUNT_VALUES: f"count({column})",
        Op.SUM: f"sum({column})",
        Op.MAX: f"max({column})",
        Op.DISTINCT: f"count(DISTINCT {column})",
    }[agg.op]


def records(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[Record]:
    cur.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def py(value: Any) -> Any:
    """DuckDB HUGEINT sums arrive as int already; decimals and numpy scalars do not."""
    if value is None or isinstance(value, (int, float, str, bool, datetime)):
        return value
    return float(value)


def floats(column: Any) -> np.ndarray:
    """A fetched column as float64 with NULL as NaN (DuckDB hands back a masked array)."""
    return np.ma.filled(np.ma.asarray(column, dtype=np.float64), np.nan)
