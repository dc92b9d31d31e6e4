"""The SELECTs of exports from ClickHouse (`Store.export_batches`), and their Arrow made plain:
calls in time order, scores in arrival order, rollup rows with their fragments merged."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from promptpulse.model import Scope
from promptpulse.store.click import rollup_sql as sql
from promptpulse.store.click.sql import EVENTS, SCORES, Params, score_where, where_clause


def export_select(
    source: str, columns: Sequence[str], scope: Scope, params: Params, time_column: str
) -> str:
    names = ", ".join(f"`{c}`" for c in columns)
    if source == "scores":
        where = score_where(scope, params)
        return f"SELECT {names} FROM {SCORES} WHERE {where} ORDER BY received_at, project, id"
    if source == "calls":
        where = where_clause(scope, params, time_column=time_column)
        return f"SELECT {names} FROM {EVENTS} WHERE {where} ORDER BY timestamp, project, id"
    level = {"hourly": "hour", "daily": "day"}[source]
    return sql.export_rollups(level, columns, scope, params)


def plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Arrow as the DuckDB store hands it out: naive UTC timestamps, signed integers, strings."""
    fields = []
    for f in batch.schema:
        t = f.type
        if pa.types.is_timestamp(t):
            t = pa.timestamp("us")
        elif pa.types.is_unsigned_integer(t):
            t = pa.int64()
        elif pa.types.is_dictionary(t) or pa.types.is_large_string(t):
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return batch.cast(pa.schema(fields))
