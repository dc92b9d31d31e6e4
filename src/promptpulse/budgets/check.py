"""Budget checks from memory: may the app make a call, or would it be over budget?

Each replica keeps, per enabled budget, its current period, spend to date and projection. Two
things keep them fresh: every commit of this replica's writer adds the calls it newly stored
(duplicates never count) to the budgets they fall in, before their senders are answered; and a
refresh every `budget_check_refresh_s` recomputes everything from the store (`budget_status`:
new and changed budgets, a new period, other replicas' calls, retention, erasure). A check reads
memory only: no query, no lock held by a writer.

Staleness: this replica's own calls count from the moment their ingest is answered; calls another
replica stored count after this one's next refresh. A commit that lands while a budget's refresh
query runs may be missed until the refresh after (never counted twice). A budget filtering on
`metadata.*` is refreshed only (its calls' metadata is not matched on commit).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from promptpulse.budgets.service import BudgetIn, budget_status, repo
from promptpulse.model import CATALOG, METADATA_PREFIX, Op
from promptpulse.store import Store
from promptpulse.tasks import DaemonTask

log = logging.getLogger("promptpulse.budgets")
MODES = ("spent", "projected")


@dataclass
class Entry:
    """One budget's state in memory; `spent` and `projected` grow with each commit. What a
    check needs besides is prepared once per refresh (filters as sets, the answer's constants)."""

    id: str
    spec: BudgetIn
    start: datetime
    end: datetime
    spent: float
    projected: float
    refreshed_at: datetime
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    shown: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        b = self.spec
        self.filters = tuple((d, frozenset(v)) for d, v in b.filters.items())
        self.shown = {"id": self.id, "name": b.name, "metric": b.metric, "amount": b.amount,
                      "period_start": _iso(self.start), "period_end": _iso(self.end),
                      "refreshed_at": _iso(self.refreshed_at)}  # fmt: skip

    def matches(self, call: Mapping[str, Sequence[str]]) -> bool:
        """Whether a call with these attributes counts toward the budget: every one of its
        filters holds, as the store applies them (an attribute not given is null; tags: any)."""
        return all(not values.isdisjoint(call.get(dim, ())) for dim, values in self.filters)

    def public(self, now: datetime) -> dict[str, Any]:
        current = self.start <= now < self.end
        spent = self.spent if current else 0.0  # a new period: nothing known until refreshed
        projected = self.projected if current else 0.0
        amount = self.spec.amount
        return {**self.shown, "spent": spent, "projected": projected, "over": spent >= amount,
                "projected_over": projected > amount}  # fmt: skip


class BudgetChecker:
    def __init__(
        self, engine: sa.Engine, store: Store, clock: Callable[[], datetime], refresh_s: float
    ) -> None:
        self.engine, self.store, self.clock, self.refresh_s = engine, store, clock, refresh_s
        self._entries: tuple[Entry, ...] = ()
        self._lock = threading.Lock()
        self.refreshed_at: datetime | None = None
        self.refreshes = 0

    # ------------------------------------------------------------ the request path

    def check(
        self, call: Mapping[str, Sequence[str]], mode: str = "spent", project: str | None = None
    ) -> tuple[dict[str, Any], float]:
        """(answer, seconds of server time): memory only. A project key (`project`) sees, and
        is held to, its project's budgets, as it lists them."""
        started = time.perf_counter()
        now = self.clock()
        found = [
            e.public(now)
            for e in self._entries
            if (project is None or e.spec.project == project) and e.matches(call)
        ]
        key = "over" if mode == "spent" else "projected_over"
        allowed = not any(b["over"] or b[key] for b in found)
        answer = {
            "allowed": allowed,
            "mode": mode,
            "budgets": found,
            "refreshed_at": _iso(self.refreshed_at) if self.refreshed_at else None,
        }
        return answer, time.perf_counter() - started

    # ------------------------------------------------------------ keeping fresh

    def on_calls(self, table: pa.Table) -> None:
        """The calls a commit newly stored: add them to every budget they fall in."""
        if table.num_rows == 0:
            return
        with self._lock:
            for e in self._entries:
                if any(d.startswith(METADATA_PREFIX) for d in e.spec.filters):
                    continue
                added = batch_total(e, table)
                e.spent += added
                e.projected += added

    def refresh(self) -> None:
        """Recompute every enabled budget from the store, one at a time."""
        now = self.clock()
        fresh = []
        for rec in repo.list(self.engine, None):
            if not rec.spec.enabled:
                continue
            try:
                status = budget_status(self.store, rec.spec, now)
            except Exception:
                log.exception("budget %s could not be refreshed; its state is kept", rec.id)
                old = next((e for e in self._entries if e.id == rec.id), None)
                if old is not None:
                    fresh.append(old)
                continue
            start, end = rec.spec.bounds(now)
            fresh.append(
                Entry(rec.id, rec.spec, start, end, status["spent"], status["projected"], now)
            )
        with self._lock:
            self._entries = tuple(fresh)
            self.refreshed_at = now
            self.refreshes += 1

    def daemon(self) -> DaemonTask:
        async def once() -> None:
            await asyncio.to_thread(self.refresh)

        return DaemonTask("budget-check", self.refresh_s, once)


def batch_total(e: Entry, table: pa.Table) -> float:
    """The budget's metric over the calls of `table` that its filters and period take."""
    mask = _in_period(table, e.start, e.end)
    for dim, values in e.spec.filters.items():
        mask &= _matching(table, dim, values)
    if not mask.any():
        return 0.0
    total = 0.0
    for agg in CATALOG[e.spec.metric].parts:
        if agg.op is Op.COUNT:
            total += float(mask.sum())
        elif agg.op is Op.SUM:
            col = table.column(agg.arg).cast(pa.float64()).fill_null(0.0)
            total += float(np.asarray(col.to_numpy(zero_copy_only=False))[mask].sum())
        else:  # COUNT_IF: successes, errors, unpriced calls...
            total += float(_condition(table, agg.arg)[mask].sum())
    return total


def _in_period(table: pa.Table, start: datetime, end: datetime) -> np.ndarray:
    ts = table.column("timestamp").cast(pa.timestamp("us"))
    us = np.asarray(ts.cast(pa.int64()).to_numpy(zero_copy_only=False))
    lo, hi = (_epoch_us(t) for t in (start, end))
    return np.asarray((us >= lo) & (us < hi))


def _matching(table: pa.Table, dim: str, values: list[str]) -> np.ndarray:
    if dim == "tag":
        tags = table.column("tags").combine_chunks()
        hit = pc.is_in(pc.list_flatten(tags), pa.array(values)).to_numpy(zero_copy_only=False)
        rows = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
        out = np.zeros(table.num_rows, dtype=bool)
        out[rows[hit]] = True
        return out
    col = table.column(dim)
    return np.asarray(pc.fill_null(pc.is_in(col, pa.array(values)), False).to_numpy(
        zero_copy_only=False), dtype=bool)  # fmt: skip


def _condition(table: pa.Table, name: str) -> np.ndarray:
    if name in ("success", "error"):
        col = pc.equal(table.column("status"), name)
    elif name == "unpriced":
        col = pc.is_null(table.column("cost_usd"))
    else:
        col = table.column("cache_hit")
    return np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=bool)


def _epoch_us(t: datetime) -> int:
    return (t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
