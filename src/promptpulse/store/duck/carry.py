"""Carrying the rollups that outlived their raw calls from one store to another (`promptpulse
migrate`): where retention deleted a project's raw calls, its rollups are all that is left of
them, and a copy of the calls alone would lose those figures.

The rows travel in an engine-neutral shape, the same in every backend: per rollup table
(`rollup_<level>`, `rollup_<level>_q_<column>`, `rollup_<level>_hll_<column>`) the columns
bucket (naive UTC timestamp), the rollup dimensions, then the stored aggregates or `k, n`. Rows
are fragments (every backend merges fragments when it reads), so they are carried as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime

import duckdb
import pyarrow as pa

from promptpulse.store.duck import rollup_sql as sql
from promptpulse.store.duck.sketch_lag import SketchLag
from promptpulse.store.duck.sql import naive_utc
from promptpulse.store.rollup_plan import LEVELS


def rollup_tables() -> list[str]:
    return [t for level in LEVELS for t in (f"rollup_{level}", *(s for s, _, _ in
            sql.sketch_tables(level)))]  # fmt: skip


class CarryMixin:
    _horizons: dict[str, datetime]
    _rollup_horizons: dict[tuple[str, str], datetime]
    _maintenance: threading.Lock
    _sketch_lag: SketchLag
    _cursor: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]

    def old_rollups(self) -> tuple[dict[str, datetime], Iterator[tuple[str, pa.Table]]]:
        """Per project its raw horizon (retention deleted its raw calls before it), and the
        rollup rows of the buckets that start before it, table by table. Every hour, and every
        day whole: a day's hourly fragments not folded into it yet come with its daily rows
        (re-bucketed to the day), so the shape is the same as an engine whose levels are filled
        independently."""
        with self._maintenance, self._cursor() as cur:
            self._sketch_lag.catch_up_alone(cur)  # late calls before a horizon, sketched
        horizons = dict(self._horizons)

        def rows() -> Iterator[tuple[str, pa.Table]]:
            for table in rollup_tables():
                select = f"SELECT * EXCLUDE (compacted) FROM {table} WHERE project = $1 AND "
                if table.startswith("rollup_day"):
                    hour = table.replace("rollup_day", "rollup_hour")
                    select = (
                        f"{select}bucket < $2 UNION ALL SELECT * EXCLUDE (compacted) REPLACE "
                        f"(date_trunc('day', bucket) AS bucket) FROM {hour} WHERE project = $1 "
                        f"AND NOT compacted AND date_trunc('day', bucket) < $2"
                    )
                else:
                    select += "bucket < $2"
                for project, cut in sorted(horizons.items()):
                    with self._cursor() as cur:
                        found: pa.Table = cur.sql(
                            select, params=[project, naive_utc(cut)]
                        ).to_arrow_table()
                    if found.num_rows:
                        yield table, found

        return horizons, rows()

    def restore_old_rollups(
        self, horizons: Mapping[str, datetime], rows: Iterable[tuple[str, pa.Table]]
    ) -> int:
        """Make this store's rollups before each project's horizon the given rows (replacing
        what it had there: run twice, it holds them once) and record the horizons, so that
        queries there answer from these rollups as they did in the source. Rows inserted."""
        known = set(rollup_tables())
        inserted = 0
        with self._maintenance, self._cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                # Own calls in a carried day are marked folded below: sketched first.
                self._sketch_lag.catch_up(cur)
                for table in sorted(known):
                    for project, cut in horizons.items():
                        cur.execute(
                            f"DELETE FROM {table} WHERE project = ? AND bucket < ?",
                            [project, naive_utc(cut)],
                        )
                for table, found in rows:
                    if table not in known:
                        raise ValueError(f"not a rollup table: {table!r}")
                    # A carried hour is in its carried day already (folded); a carried day's
                    # fragments are folded by the next compaction.
                    folded = "TRUE" if table.startswith("rollup_hour") else "FALSE"
                    cur.register("carried", found)
                    cur.execute(
                        f"INSERT INTO {table} BY NAME SELECT *, {folded} AS compacted FROM carried"
                    )
                    cur.unregister("carried")
                    inserted += found.num_rows
                for project, cut in horizons.items():
                    # This store's own hours after the horizon in a day that starts before it
                    # (their calls came as raw calls) are in that carried day too.
                    for table in known:
                        if table.startswith("rollup_hour"):
                            cur.execute(
                                f"UPDATE {table} SET compacted = TRUE WHERE project = ? AND NOT "
                                "compacted AND date_trunc('day', bucket) < ?",
                                [project, naive_utc(cut)],
                            )
                    cur.execute("INSERT INTO raw_horizon VALUES (?, ?)", [project, naive_utc(cut)])
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                self._sketch_lag.rolled_back()
                raise
            self._horizons = sql.horizons(cur)
        return inserted
