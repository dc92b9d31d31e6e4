"""Rollups in DuckDB's dialect: tables, write-through, compaction, rebuild, merged queries and
retention deletes. Shapes and maths live in `promptpulse.rollups`; only SQL lives here.

Per level (hour, day) there is a main table `rollup_<level>` (bucket, the rollup dimensions, a
`compacted` flag and one column per stored base aggregate) and one long sketch table per
percentile column (`rollup_<level>_q_<column>`: key, count) and per distinct column
(`rollup_<level>_hll_<column>`: register, rank). Every row is a mergeable fragment: the writer
appends fragments for each committed batch in the same transaction as the calls (so rollups are
never behind raw data), and compaction later folds each closed bucket's fragments into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb

from promptpulse.model import Agg, Dimension, Op, Scope
from promptpulse.store.duck.sql import CONDITION_SQL, filter_clause, naive_utc
from promptpulse.store.rollup_plan import (
    DISTINCT_COLUMNS,
    LEVELS,
    QUANTILE_COLUMNS,
    ROLLUP_AGGS,
    ROLLUP_DIMENSIONS,
    Piece,
    agg_column,
    ceil_to,
)
from promptpulse.store.sketch import HLL_HASH_BITS, HLL_M, HLL_P, LN_GAMMA, ZERO_KEY

DIMS = ", ".join(ROLLUP_DIMENSIONS)
DIM_TYPES = ", ".join(f"{d} VARCHAR" for d in ROLLUP_DIMENSIONS)


def sketch_tables(level: str) -> list[tuple[str, str, str]]:
    """(table, column, kind) of every sketch table of a level; kind is 'q' or 'hll'."""
    return [(f"rollup_{level}_q_{c}", c, "q") for c in QUANTILE_COLUMNS] + [
        (f"rollup_{level}_hll_{c}", c, "hll") for c in DISTINCT_COLUMNS
    ]


def _agg_type(agg: Agg) -> str:
    if agg.op is Op.SUM and agg.arg in ("latency_ms", "ttft_ms", "queue_ms", "cost_usd"):
        return "DOUBLE"
    if agg.op is Op.MAX:
        return "DOUBLE"
    return "BIGINT"


def ddl(stored: Sequence[Agg] = ROLLUP_AGGS) -> str:
    parts = []
    for level in LEVELS:
        aggs = ", ".join(f"{agg_column(a)} {_agg_type(a)}" for a in stored)
        parts.append(
            f"CREATE TABLE rollup_{level} (bucket TIMESTAMP NOT NULL, {DIM_TYPES}, "
            f"compacted BOOLEAN NOT NULL, {aggs});"
        )
        for table, _, kind in sketch_tables(level):
            n_type = "BIGINT" if kind == "q" else "TINYINT"
            parts.append(
                f"CREATE TABLE {table} (bucket TIMESTAMP NOT NULL, {DIM_TYPES}, "
                f"compacted BOOLEAN NOT NULL, k INTEGER NOT NULL, n {n_type} NOT NULL);"
            )
    parts.append("CREATE TABLE raw_horizon (project VARCHAR NOT NULL, cutoff TIMESTAMP NOT NULL);")
    return "\n".join(parts)


def backfill_sql(stored: Sequence[Agg] = ROLLUP_AGGS) -> str:
    """Rollups of every stored call: run once by the migration that creates the tables."""
    out = []
    for level in LEVELS:
        for target, select in build_selects(level, "events", "TRUE", True, stored):
            out.append(f"INSERT INTO {target} {select};")
    return "\n".join(out)


def _build_agg(agg: Agg) -> str:
    if agg.op is Op.COUNT:
        return "count(*)"
    if agg.op is Op.COUNT_IF:
        return f"count_if({CONDITION_SQL[agg.arg]})"
    return {Op.COUNT_VALUES: "count", Op.SUM: "sum", Op.MAX: "max"}[agg.op] + f"({agg.arg})"


def key_sql(column: str) -> str:
    return (
        f"CASE WHEN {column} > 0 THEN CAST(ceil(ln({column}) / {LN_GAMMA!r}) AS INTEGER) "
        f"ELSE {ZERO_KEY} END"
    )


def build_selects(
    level: str, source: str, where: str, compacted: bool, stored: Sequence[Agg] = ROLLUP_AGGS
) -> list[tuple[str, str]]:
    """(target table, SELECT) pairs summarising calls of `source` matching `where` as fragments
    of `level`; the SELECTs have the target tables' column order."""
    bucket = f"date_trunc('{level}', timestamp) AS bucket"
    flag = f"{str(compacted).upper()} AS compacted"
    aggs = ", ".join(f"{_build_agg(a)} AS {agg_column(a)}" for a in stored)
    out = [
        (
            f"rollup_{level}",
            f"SELECT {bucket}, {DIMS}, {flag}, {aggs} FROM {source} WHERE {where} GROUP BY ALL",
        )
    ]
    for table, column, kind in sketch_tables(level):
        if kind == "q":
            select = (
                f"SELECT {bucket}, {DIMS}, {flag}, {key_sql(column)} AS k, count(*) AS n "
                f"FROM {source} "
                f"WHERE ({where}) AND {column} IS NOT NULL GROUP BY ALL"
            )
        else:
            # md5 once per call (a sub-select), not once per use: it is the costly part.
            w = f"(h >> {HLL_P})"
            rank = (
                f"CASE WHEN {w} = 0 THEN {HLL_HASH_BITS + 1} "
                f"ELSE {HLL_HASH_BITS} - CAST(floor(log2(CAST({w} AS DOUBLE))) AS INTEGER) END"
            )
            hashed = (
                f"(SELECT timestamp, {DIMS}, md5_number_lower({column}) AS h FROM {source} "
                f"WHERE ({where}) AND {column} IS NOT NULL)"
            )
            select = (
                f"SELECT {bucket}, {DIMS}, {flag}, CAST(h & {HLL_M - 1} AS INTEGER) AS k, "
                f"CAST(max({rank}) AS TINYINT) AS n FROM {hashed} GROUP BY ALL"
            )
        out.append((table, select))
    return out


# Calls the sketch tables do not hold yet (sketch_lag.py), and those they do. The mark is the
# largest number in `sketched_through`: moved by an INSERT, since an uncommitted UPDATE would
# make every background CHECKPOINT fail meanwhile (DuckDB lets appends and deletes go on).
MARK = "(SELECT max(seq) FROM sketched_through)"
UNSKETCHED = f"commit_seq > {MARK}"
SKETCHED = f"commit_seq <= {MARK}"


def write_through(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """The hourly main fragment (counts and sums) of a batch being inserted, inside the
    writer's transaction. Daily rollups get it when compaction folds closed hours into days;
    until then a daily piece of a query reads the day's unfolded (uncompacted) hourly fragments
    too. The sketches follow in bulk (`catch_up_sketches`)."""
    target, select = build_selects("hour", source, "TRUE", compacted=False)[0]
    con.execute(f"INSERT INTO {target} {select}")


def catch_up_sketches(con: duckdb.DuckDBPyConnection, through: int) -> None:
    """Hourly sketch fragments of the unsketched calls stamped up to `through`, and the mark
    moved there; in the caller's transaction (sketch_lag.py)."""
    where = f"{UNSKETCHED} AND commit_seq <= {int(through)}"
    for target, select in build_selects("hour", "events", where, compacted=False)[1:]:
        con.execute(f"INSERT INTO {target} {select}")
    con.execute("INSERT INTO sketched_through VALUES (?)", [through])
    con.execute("DELETE FROM sketched_through WHERE seq < ?", [through])


def merge_agg(agg: Agg) -> str:
    col = agg_column(agg)
    return f"max({col})" if agg.op is Op.MAX else f"sum({col})"


def compact(con: duckdb.DuckDBPyConnection, level: str, before: datetime) -> int:
    """Fold the fragments of every bucket that starts before `before` and has uncompacted rows
    into one row per (bucket, dimensions); returns how many buckets. One transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE dirty_{level} AS SELECT DISTINCT bucket "
            f"FROM rollup_{level} WHERE NOT compacted AND bucket < ?",
            [naive_utc(before)],
        )
        row = con.execute(f"SELECT count(*) FROM dirty_{level}").fetchone()
        count = int(row[0]) if row else 0
        if count:
            aggs = ", ".join(f"{merge_agg(a)} AS {agg_column(a)}" for a in ROLLUP_AGGS)
            merges = [(f"rollup_{level}", f"TRUE AS compacted, {aggs}")]
            for table, _, kind in sketch_tables(level):
                merge = "sum(n)" if kind == "q" else "max(n)"
                merges.append((table, f"TRUE AS compacted, k, {merge} AS n"))
            for table, select in merges:
                if level == "hour":  # the hours' new fragments become the days' new fragments
                    day = table.replace("rollup_hour", "rollup_day")
                    con.execute(
                        f"INSERT INTO {day} SELECT date_trunc('day', bucket) AS bucket, {DIMS}, "
                        + select.replace("TRUE AS compacted", "FALSE AS compacted")
                        + f" FROM {table} WHERE NOT compacted AND bucket IN "
                        f"(SELECT bucket FROM dirty_{level}) GROUP BY ALL"
                    )
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE merged AS SELECT bucket, {DIMS}, {select} "
                    f"FROM {table} WHERE bucket IN (SELECT bucket FROM dirty_{level}) "
                    f"GROUP BY bucket, {DIMS}" + (", k" if table != f"rollup_{level}" else "")
                )
                con.execute(
                    f"DELETE FROM {table} WHERE bucket IN (SELECT bucket FROM dirty_{level})"
                )
                con.execute(f"INSERT INTO {table} SELECT * FROM merged")
            con.execute("DROP TABLE merged")
        con.execute(f"DROP TABLE dirty_{level}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return count


def horizons(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Per project, the time before which raw calls were deleted by retention."""
    rows = con.execute("SELECT project, max(cutoff) FROM raw_horizon GROUP BY project").fetchall()
    return {p: c.replace(tzinfo=UTC) for p, c in rows}


def rollup_horizons(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], datetime]:
    """Per (level, project), the time before which retention deleted that level's rollups."""
    rows = con.execute(
        "SELECT level, project, max(cutoff) FROM rollup_horizon GROUP BY level, project"
    ).fetchall()
    return {(level, p): c.replace(tzinfo=UTC) for level, p, c in rows}


def rebuild(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, project: str | None
) -> dict[str, int]:
    """Replace the rollups of [start, end) (whole days) with rollups built from raw calls, one
    project at a time, never before a project's raw horizon (rollups there are all that is
    left). Returns calls summarised per project."""
    cut = horizons(con)
    if project is None:
        found = con.execute(
            "SELECT DISTINCT project FROM events WHERE timestamp >= ? AND timestamp < ? "
            "UNION SELECT DISTINCT project FROM rollup_day WHERE bucket >= ? AND bucket < ?",
            [naive_utc(start), naive_utc(end)] * 2,
        ).fetchall()
        projects = sorted(r[0] for r in found)
    else:
        projects = [project]
    done: dict[str, int] = {}
    for p in projects:
        con.execute("BEGIN TRANSACTION")
        try:
            n = rebuild_project(con, start, end, p, cut)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if n is not None:
            done[p] = n
    return done


def rebuild_project(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    p: str,
    cut: dict[str, datetime] | None = None,
) -> int | None:
    """One project's part of `rebuild`, in the caller's transaction (a reprice rewrites costs
    and rollups in one). Returns the calls summarised; None when the horizon leaves nothing."""
    cut = horizons(con) if cut is None else cut
    lo = max(start, cut[p]) if p in cut else start
    if lo >= end:
        return None
    bounds = [p, naive_utc(lo), naive_utc(end)]
    for level in LEVELS:
        # A bucket the raw horizon cuts through keeps its rollups: they still hold the
        # calls before the horizon, which raw no longer has.
        level_bounds = [p, naive_utc(ceil_to(lo, level)), naive_utc(end)]
        tables = [f"rollup_{level}", *(t for t, _, _ in sketch_tables(level))]
        for table in tables:
            con.execute(
                f"DELETE FROM {table} WHERE project = ? AND bucket >= ? AND bucket < ?",
                level_bounds,
            )
        where = "project = $1 AND timestamp >= $2 AND timestamp < $3"
        main = build_selects(level, "events", where, compacted=True)[0]
        # Unsketched calls get their sketch fragments when the sketches catch up.
        sketches = build_selects(level, "events", f"{where} AND {SKETCHED}", compacted=True)[1:]
        for target, select in [main, *sketches]:
            con.execute(f"INSERT INTO {target} {select}", level_bounds)
    row = con.execute(
        "SELECT count(*) FROM events WHERE project = ? AND timestamp >= ? AND timestamp < ?",
        bounds,
    ).fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------- merged queries


def _piece_selects(
    pieces: Sequence[Piece], scope: Scope, table_of: dict[str, str], raw_index: int, cols: str
) -> tuple[str, list[Any]]:
    """UNION ALL of the fragments of every piece; raw pieces are summarised on the fly, and so
    are a sketch's unsketched calls in the other pieces (`raw_index` > 0: sketch_lag.py)."""
    filt, fparams = filter_clause(scope)
    selects: list[str] = []
    params: list[Any] = []

    def calls(where: str) -> str:  # calls of a piece summarised like its fragments
        select = build_selects("hour", "events", where, compacted=False)[raw_index][1]
        return f"SELECT {cols} FROM ({select})"

    for p in pieces:
        if p.source == "raw":
            selects.append(calls(f"timestamp >= ? AND timestamp < ? AND {filt}"))
        else:
            if raw_index:
                selects.append(
                    calls(f"{UNSKETCHED} AND timestamp >= ? AND timestamp < ? AND {filt}")
                )
                params += [naive_utc(p.start), naive_utc(p.end), *fparams]
            selects.append(
                f"SELECT {cols} FROM {table_of[p.source]} "
                f"WHERE bucket >= ? AND bucket < ? AND {filt}"
            )
            if p.source == "day":  # hourly fragments not yet folded into their days
                params += [naive_utc(p.start), naive_utc(p.end), *fparams]
                selects.append(
                    f"SELECT {cols} FROM {table_of['hour']} "
                    f"WHERE NOT compacted AND bucket >= ? AND bucket < ? AND {filt}"
                )
        params += [naive_utc(p.start), naive_utc(p.end), *fparams]
    return " UNION ALL ".join(selects), params


def _keys(group_by: Sequence[Dimension], interval: str | None) -> list[tuple[str, str]]:
    keys = [("t", f"date_trunc('{interval}', bucket)")] if interval else []
    return keys + [(f"g{i}", d.name) for i, d in enumerate(group_by)]


def main_query(
    pieces: Sequence[Piece],
    scope: Scope,
    aggs: Sequence[Agg],
    group_by: Sequence[Dimension],
    interval: str | None,
) -> tuple[str, list[Any]]:
    """Merged base aggregates per group; columns a0.. in the order of `aggs` (no DISTINCT)."""
    keys = _keys(group_by, interval)
    tables = {level: f"rollup_{level}" for level in LEVELS}
    cols = ", ".join(["bucket", *ROLLUP_DIMENSIONS, *(agg_column(a) for a in ROLLUP_AGGS)])
    union, params = _piece_selects(pieces, scope, tables, 0, cols)
    select = [f"{expr} AS {alias}" for alias, expr in keys]
    select += [f"{merge_agg(a)} AS a{i}" for i, a in enumerate(aggs)]
    group = " GROUP BY " + ", ".join(alias for alias, _ in keys) if keys else ""
    return f"SELECT {', '.join(select) or 'count(*)'} FROM ({union}){group}", params


def sketch_query(
    pieces: Sequence[Piece],
    scope: Scope,
    kind: str,
    column: str,
    group_by: Sequence[Dimension],
    interval: str | None,
) -> tuple[str, list[Any]]:
    """Merged sketch rows (group keys, k, n) of one column."""
    keys = _keys(group_by, interval)
    prefix = "q" if kind == "q" else "hll"
    tables = {level: f"rollup_{level}_{prefix}_{column}" for level in LEVELS}
    index = 1 + [t for t in sketch_tables("hour")].index(
        (f"rollup_hour_{prefix}_{column}", column, kind)
    )
    cols = ", ".join(["bucket", *ROLLUP_DIMENSIONS, "k", "n"])
    union, params = _piece_selects(pieces, scope, tables, index, cols)
    select = [f"{expr} AS {alias}" for alias, expr in keys]
    merge = "sum(n)" if kind == "q" else "max(n)"
    group = ", ".join([*(alias for alias, _ in keys), "k"])
    return (
        f"SELECT {', '.join([*select, 'k', f'{merge} AS n'])} FROM ({union}) GROUP BY {group}",
        params,
    )


def calls_in(pieces: Sequence[Piece], scope: Scope) -> tuple[str, list[Any]]:
    """How many calls the rollup pieces hold (to decide whether they are worth using)."""
    rollup = [p for p in pieces if p.source != "raw"]
    sql, params = main_query(rollup, scope, [Agg(Op.COUNT)], (), None)
    return sql, params


# ---------------------------------------------------------------- retention


def delete_rollups(
    con: duckdb.DuckDBPyConnection,
    level: str,
    before: datetime,
    project: str | None,
    keep_projects: Sequence[str] = (),
) -> int:
    """Delete a level's rollups older than `before` (one project, or every project not in
    `keep_projects`). Returns main rows deleted."""
    where, params = _project_where(project, keep_projects)
    where = f"bucket < ? AND {where}"
    params = [naive_utc(before), *params]
    row = con.execute(f"SELECT count(*) FROM rollup_{level} WHERE {where}", params).fetchone()
    affected = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT project FROM rollup_{level} WHERE {where}", params
        ).fetchall()
    ]
    for table in [f"rollup_{level}", *(t for t, _, _ in sketch_tables(level))]:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
    for p in affected:
        con.execute("INSERT INTO rollup_horizon VALUES (?, ?, ?)", [level, p, naive_utc(before)])
    return int(row[0]) if row else 0


def _project_where(project: str | None, keep: Sequence[str]) -> tuple[str, list[Any]]:
    if project is not None:
        return "project = ?", [project]
    if keep:
        return f"project NOT IN ({', '.join('?' for _ in keep)})", list(keep)
    return "TRUE", []


def delete_raw(
    con: duckdb.DuckDBPyConnection,
    before: datetime,
    project: str | None,
    keep_projects: Sequence[str] = (),
) -> int:
    """Delete raw calls older than `before` and record the new raw horizon per project."""
    where, params = _project_where(project, keep_projects)
    where = f"timestamp < ? AND {where}"
    params = [naive_utc(before), *params]
    affected = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT project FROM events WHERE {where}", params
        ).fetchall()
    ]
    row = con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()
    con.execute(f"DELETE FROM events WHERE {where}", params)
    for p in affected:
        con.execute("INSERT INTO raw_horizon VALUES (?, ?)", [p, naive_utc(before)])
    return int(row[0]) if row else 0


def erase(
    con: duckdb.DuckDBPyConnection, project: str, user_id: str | None
) -> tuple[dict[str, int], list[datetime]]:
    """Right to erasure. A project: every call, score and rollup of it. A user: their calls and
    scores; the rollup buckets they appear in are rebuilt from the remaining raw calls where raw
    data is complete (older rollups hold only aggregates and hashed sketch registers)."""
    out: dict[str, int] = {}
    if user_id is None:
        row = con.execute("SELECT count(*) FROM events WHERE project = ?", [project]).fetchone()
        out["calls"] = int(row[0]) if row else 0
        con.execute("DELETE FROM scores WHERE project = ?", [project])
        con.execute("DELETE FROM events WHERE project = ?", [project])
        for level in LEVELS:
            for table in [f"rollup_{level}", *(t for t, _, _ in sketch_tables(level))]:
                con.execute(f"DELETE FROM {table} WHERE project = ?", [project])
        con.execute("DELETE FROM raw_horizon WHERE project = ?", [project])
        con.execute("DELETE FROM rollup_horizon WHERE project = ?", [project])
        return out, []
    days = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT date_trunc('day', timestamp) FROM events "
            "WHERE project = ? AND user_id = ?",
            [project, user_id],
        ).fetchall()
    ]
    row = con.execute(
        "SELECT count(*) FROM events WHERE project = ? AND user_id = ?", [project, user_id]
    ).fetchone()
    out["calls"] = int(row[0]) if row else 0
    con.execute(
        "DELETE FROM scores WHERE project = ? AND event_id IN "
        "(SELECT id FROM events WHERE project = ? AND user_id = ?)",
        [project, project, user_id],
    )
    con.execute("DELETE FROM events WHERE project = ? AND user_id = ?", [project, user_id])
    out["rebuilt_days"] = len(days)
    return out, days
