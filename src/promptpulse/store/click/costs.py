"""Repriced costs written back, the ClickHouse way (a mixin of ClickStore).

ClickHouse has no transaction over a mutation and the rollup rebuild, so the guarantee is
roll-forward: the new costs go in by one synchronous mutation (all of the calls' parts, or
none, for a single node), then the rollups of the touched days are rebuilt; a crash between the
two leaves the audit row `running`, and the server resumes it at start-up (prices/service.py),
which rebuilds every day of its range again. Rows are updated in place (ALTER TABLE … UPDATE):
re-inserting them would not do, since the first stored copy of a call wins and the rollups'
materialized views would count the copy.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pyarrow as pa

from promptpulse.errors import BadRequest
from promptpulse.store.click.schema import Layout
from promptpulse.store.click.sql import Params

_JOIN_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("cost_usd", pa.float64()),
        ("price_ref", pa.string()),
        ("hit", pa.uint8()),
    ]
)


class CostsMixin:
    layout: Layout
    _maintenance: threading.Lock
    _command: Callable[..., None]
    insert: Callable[[str, pa.Table], None]
    _rebuild: Callable[..., dict[str, int]]
    _scalar: Callable[[str], object]

    def apply_costs(self, changes: pa.Table, days: Sequence[tuple[str, datetime]]) -> int:
        """Set cost_usd and price_ref of the calls in `changes` (project, id, cost_usd,
        price_ref), then rebuild the rollups of `days` ((project, UTC midnight))."""
        if self.layout.cluster:
            raise BadRequest("repricing is not supported on a ClickHouse cluster yet")
        with self._maintenance:
            if changes.num_rows:
                self._update_costs(changes)
            by_project: dict[str, list[datetime]] = {}
            for project, day in days:
                by_project.setdefault(project, []).append(day)
            for project, found in by_project.items():
                start, end = min(found), max(found) + timedelta(days=1)
                self._rebuild(start, end, project, found)
        return changes.num_rows

    def _update_costs(self, changes: pa.Table) -> None:
        table = f"reprice_{uuid.uuid4().hex}"
        # A mutation runs without the session's database: joinGet names it.
        qualified = f"{self._scalar('SELECT currentDatabase()')}.{table}"
        self._command(
            f"CREATE TABLE {table} (project String, id String, cost_usd Nullable(Float64), "
            "price_ref Nullable(String), hit UInt8) ENGINE = Join(ANY, LEFT, project, id)"
        )
        try:
            data = pa.table(
                {
                    "project": changes["project"],
                    "id": changes["id"],
                    "cost_usd": changes["cost_usd"],
                    "price_ref": changes["price_ref"],
                    "hit": pa.array([1] * changes.num_rows, pa.uint8()),
                },
                schema=_JOIN_SCHEMA,
            )
            self.insert(table, data)
            # A lookup in the Join table (a subquery over it cannot be read by a mutation).
            self._command(
                f"ALTER TABLE events UPDATE cost_usd = joinGet('{qualified}', 'cost_usd', "
                f"project, id), price_ref = joinGet('{qualified}', 'price_ref', project, id) "
                f"WHERE joinGet('{qualified}', 'hit', project, id) = 1 "
                "SETTINGS mutations_sync = 2",
                Params(),
            )
        finally:
            self._command(f"DROP TABLE IF EXISTS {table}")
