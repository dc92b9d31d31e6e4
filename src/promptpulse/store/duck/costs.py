"""Repriced costs written back, the DuckDB way (a mixin of DuckStore): the calls' new costs and
the rollups of the days they fall on, in ONE transaction, so that a crash leaves either the old
costs everywhere or the new ones everywhere."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from promptpulse.store.duck import rollup_sql

COST_CHANGES = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("cost_usd", pa.float64()),
        ("price_ref", pa.string()),
    ]
)


class CostsMixin:
    _con: duckdb.DuckDBPyConnection
    _lock: threading.Lock
    _maintenance: threading.Lock

    def apply_costs(self, changes: pa.Table, days: Sequence[tuple[str, datetime]]) -> int:
        """Set cost_usd and price_ref of the calls in `changes` (project, id, cost_usd,
        price_ref) and rebuild the rollups of `days` ((project, UTC midnight)) from the result,
        atomically. Returns the calls updated. No query time limit: this is maintenance."""
        changes = changes.select(COST_CHANGES.names).cast(COST_CHANGES)
        with self._maintenance:
            with self._lock:
                cur = self._con.cursor()
            try:
                return _apply(cur, changes, days)
            finally:
                cur.close()


def _apply(
    cur: duckdb.DuckDBPyConnection, changes: pa.Table, days: Sequence[tuple[str, datetime]]
) -> int:
    cur.register("cost_changes", changes)
    cur.execute("BEGIN TRANSACTION")
    try:
        row = cur.execute(
            "UPDATE events SET cost_usd = c.cost_usd, price_ref = c.price_ref "
            "FROM cost_changes c WHERE events.project = c.project AND events.id = c.id"
        ).fetchone()
        cut = rollup_sql.horizons(cur)
        for project, day in sorted(set(days)):
            rollup_sql.rebuild_project(cur, day, day + timedelta(days=1), project, cut)
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    finally:
        cur.unregister("cost_changes")
    return int(row[0]) if row else 0
