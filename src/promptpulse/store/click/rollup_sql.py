"""Rollups in ClickHouse's dialect: AggregatingMergeTree tables fed by materialized views,
rebuilds, merged queries and retention deletes. Shapes and maths are the store's own
(`store.rollup_plan`, `store.sketch`: the same DDSketch keys and HyperLogLog registers as the
DuckDB backend); only SQL lives here.

Per level (hour, day) there is a main table `rollup_<level>` (bucket, the rollup dimensions, one
column per stored base aggregate) and one long sketch table per percentile column
(`rollup_<level>_q_<column>`: key, count) and per distinct column (`rollup_<level>_hll_<column>`:
register, rank). A materialized view per table summarises every insert into calls as it
commits (rollups are never behind raw data); ClickHouse merges the fragments in the background
(sum and max are SimpleAggregateFunctions), and every read merges what is not merged yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptpulse.model import Agg, Dimension, Op, Scope
from promptpulse.store.click.schema import Layout
from promptpulse.store.click.sql import CONDITION_SQL, EVENTS, Params, bucket_sql, filter_clause
from promptpulse.store.rollup_plan import (
    DISTINCT_COLUMNS,
    LEVELS,
    QUANTILE_COLUMNS,
    ROLLUP_AGGS,
    ROLLUP_DIMENSIONS,
    Piece,
    agg_column,
)
from promptpulse.store.sketch import HLL_HASH_BITS, HLL_M, HLL_P, LN_GAMMA, ZERO_KEY

DIMS = ", ".join(ROLLUP_DIMENSIONS)
DIM_TYPES = ", ".join(f"{d} LowCardinality(Nullable(String))" for d in ROLLUP_DIMENSIONS)
FLOAT_SUMS = ("latency_ms", "ttft_ms", "queue_ms", "cost_usd")
ROLLUP_EXPORT_COLUMNS: tuple[str, ...] = (
    "bucket",
    *ROLLUP_DIMENSIONS,
    *(agg_column(a) for a in ROLLUP_AGGS),
)


def sketch_tables(level: str) -> list[tuple[str, str, str]]:
    """(table, column, kind) of every sketch table of a level; kind is 'q' or 'hll'."""
    return [(f"rollup_{level}_q_{c}", c, "q") for c in QUANTILE_COLUMNS] + [
        (f"rollup_{level}_hll_{c}", c, "hll") for c in DISTINCT_COLUMNS
    ]


def tables(level: str) -> list[str]:
    return [f"rollup_{level}", *(t for t, _, _ in sketch_tables(level))]


def _agg_type(agg: Agg) -> str:
    if agg.op is Op.MAX:
        return "SimpleAggregateFunction(max, Nullable(Float64))"
    if agg.op is Op.SUM:
        return f"SimpleAggregateFunction(sum, {'Float64' if agg.arg in FLOAT_SUMS else 'Int64'})"
    return "SimpleAggregateFunction(sum, UInt64)"


def _merge(agg: Agg) -> str:
    col = agg_column(agg)
    return f"maxOrNull({col})" if agg.op is Op.MAX else f"sum({col})"


def ddl(layout: Layout) -> list[str]:
    """Every rollup table and the materialized views that feed them from calls."""
    out: list[str] = []
    tail = (
        "PARTITION BY toYYYYMM(bucket) ORDER BY (bucket, {dims}{k}) SETTINGS allow_nullable_key = 1"
    )
    shard = "cityHash64(bucket)"
    for level in LEVELS:
        aggs = ", ".join(f"{agg_column(a)} {_agg_type(a)}" for a in ROLLUP_AGGS)
        cols = f"bucket DateTime64(0, 'UTC'), {DIM_TYPES}"
        out += layout.create(
            f"rollup_{level}", f"{cols}, {aggs}", "AggregatingMergeTree", "",
            tail.format(dims=DIMS, k=""), shard,
        )  # fmt: skip
        for table, _, kind in sketch_tables(level):
            n = "sum, UInt64" if kind == "q" else "max, UInt8"
            k = "Int32" if kind == "q" else "UInt16"
            out += layout.create(
                table, f"{cols}, k {k}, n SimpleAggregateFunction({n})", "AggregatingMergeTree",
                "", tail.format(dims=DIMS, k=", k"), shard,
            )  # fmt: skip
        for target, select in build_selects(level, layout.local("events"), "1"):
            out.append(
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target}_mv{layout.on} "
                f"TO {layout.local(target)} AS {select}"
            )
    # Which (day, project) received calls since compaction last checked them (see
    # `compact_rollups`: a copy two replicas inserted at once is counted twice by the views).
    out += layout.create(
        "rollup_touched",
        "day DateTime64(0, 'UTC'), project String, "
        "last SimpleAggregateFunction(max, DateTime64(6, 'UTC'))",
        "AggregatingMergeTree", "", "ORDER BY (day, project)", "cityHash64(day)",
    )  # fmt: skip
    out.append(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_touched_mv{layout.on} "
        f"TO {layout.local('rollup_touched')} AS SELECT toDateTime64(toStartOfDay(timestamp), 0, "
        f"'UTC') AS day, project, max(now64(6)) AS last FROM {layout.local('events')} "
        "GROUP BY day, project"
    )
    return out


def _build_agg(agg: Agg) -> str:
    if agg.op is Op.COUNT:
        return "count()"
    if agg.op is Op.COUNT_IF:
        return f"countIf({CONDITION_SQL[agg.arg]})"
    if agg.op is Op.COUNT_VALUES:
        return f"count({agg.arg})"
    if agg.op is Op.MAX:
        return f"maxOrNull({agg.arg})"
    return f"sum(ifNull({agg.arg}, 0))"


def key_sql(column: str) -> str:
    return f"if({column} > 0, toInt32(ceil(log({column}) / {LN_GAMMA!r})), {ZERO_KEY})"


def build_selects(level: str, source: str, where: str) -> list[tuple[str, str]]:
    """(target table, SELECT) pairs summarising calls of `source` matching `where` as fragments
    of `level`; the SELECTs have the target tables' column order."""
    bucket = f"toDateTime64({bucket_sql(level)}, 0, 'UTC') AS bucket"
    group = f"GROUP BY bucket, {DIMS}"
    aggs = ", ".join(f"{_build_agg(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS)
    out = [
        (f"rollup_{level}", f"SELECT {bucket}, {DIMS}, {aggs} FROM {source} WHERE {where} {group}")
    ]
    for table, column, kind in sketch_tables(level):
        if kind == "q":
            select = (
                f"SELECT {bucket}, {DIMS}, {key_sql(column)} AS k, count() AS n FROM {source} "
                f"WHERE ({where}) AND {column} IS NOT NULL {group}, k"
            )
        else:
            h = f"cityHash64({column})"
            w = f"bitShiftRight({h}, {HLL_P})"
            rank = (
                f"if({w} = 0, {HLL_HASH_BITS + 1}, "
                f"{HLL_HASH_BITS} - toInt32(floor(log2(toFloat64({w})))))"
            )
            select = (
                f"SELECT {bucket}, {DIMS}, toUInt16(bitAnd({h}, {HLL_M - 1})) AS k, "
                f"toUInt8(max({rank})) AS n FROM {source} "
                f"WHERE ({where}) AND {column} IS NOT NULL {group}, k"
            )
        out.append((table, select))
    return out


# ---------------------------------------------------------------- merged queries


def _piece_selects(
    pieces: Sequence[Piece], scope: Scope, params: Params, table_of: dict[str, str], index: int,
    cols: str,
) -> str:  # fmt: skip
    """UNION ALL of the fragments of every piece; raw pieces are summarised on the fly."""
    selects: list[str] = []
    for p in pieces:
        lo, hi = params.time(p.start), params.time(p.end)
        filt = filter_clause(scope, params)
        if p.source == "raw":
            where = f"timestamp >= {lo} AND timestamp < {hi} AND {filt}"
            select = build_selects("hour", EVENTS, where)[index][1]
            selects.append(f"SELECT {cols} FROM ({select})")
        else:
            selects.append(
                f"SELECT {cols} FROM {table_of[p.source]} "
                f"WHERE bucket >= {lo} AND bucket < {hi} AND {filt}"
            )
    return " UNION ALL ".join(selects)


def _keys(group_by: Sequence[Dimension], interval: str | None) -> list[tuple[str, str]]:
    # DateTime64: Arrow then hands back timestamps (a DateTime would be a bare uint32).
    keys = [("t", f"toDateTime64({bucket_sql(interval, 'bucket')}, 0, 'UTC')")] if interval else []
    return keys + [(f"g{i}", d.name) for i, d in enumerate(group_by)]


def main_query(
    pieces: Sequence[Piece],
    scope: Scope,
    params: Params,
    aggs: Sequence[Agg],
    group_by: Sequence[Dimension],
    interval: str | None,
) -> str:
    """Merged base aggregates per group; columns a0.. in the order of `aggs` (no DISTINCT)."""
    keys = _keys(group_by, interval)
    tables_of = {level: f"rollup_{level}" for level in LEVELS}
    cols = ", ".join(["bucket", *ROLLUP_DIMENSIONS, *(agg_column(a) for a in ROLLUP_AGGS)])
    union = _piece_selects(pieces, scope, params, tables_of, 0, cols)
    select = [f"{expr} AS {alias}" for alias, expr in keys]
    select += [f"{_merge(a)} AS a{i}" for i, a in enumerate(aggs)]
    if not keys:
        select.append("count() AS fragments")  # 0: no piece holds a call
    group = " GROUP BY " + ", ".join(alias for alias, _ in keys) if keys else ""
    return f"SELECT {', '.join(select)} FROM ({union}){group}"


def sketch_query(
    pieces: Sequence[Piece],
    scope: Scope,
    params: Params,
    kind: str,
    column: str,
    group_by: Sequence[Dimension],
    interval: str | None,
) -> str:
    """Merged sketch rows (group keys, k, n) of one column."""
    keys = _keys(group_by, interval)
    prefix = "q" if kind == "q" else "hll"
    tables_of = {level: f"rollup_{level}_{prefix}_{column}" for level in LEVELS}
    index = 1 + sketch_tables("hour").index((f"rollup_hour_{prefix}_{column}", column, kind))
    cols = ", ".join(["bucket", *ROLLUP_DIMENSIONS, "k", "n"])
    union = _piece_selects(pieces, scope, params, tables_of, index, cols)
    select = [f"{expr} AS {alias}" for alias, expr in keys]
    merge = "sum(n)" if kind == "q" else "max(n)"
    group = ", ".join([*(alias for alias, _ in keys), "k"])
    return f"SELECT {', '.join([*select, 'k', f'{merge} AS n'])} FROM ({union}) GROUP BY {group}"


# ---------------------------------------------------------------- exports


def export_rollups(level: str, columns: Sequence[str], scope: Scope, params: Params) -> str:
    """Rollup rows of [start, end), fragments merged, in (bucket, dimensions) order."""
    aggs = ", ".join(f"{_merge(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS)
    lo, hi = params.time(scope.start), params.time(scope.end)
    inner = (
        f"SELECT bucket, {DIMS}, {aggs} FROM rollup_{level} WHERE bucket >= {lo} AND "
        f"bucket < {hi} AND {filter_clause(scope, params)} GROUP BY bucket, {DIMS}"
    )
    return f"SELECT {', '.join(columns)} FROM ({inner}) ORDER BY bucket, {DIMS}"
