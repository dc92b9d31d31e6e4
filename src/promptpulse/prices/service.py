"""Repricing: recompute the cost of stored calls with the price book and genai-prices for their
day, show the difference per (model, day), and write it (costs, provenance and the rollups of
the touched days) through `Store.apply_costs`, recorded in the audit trail.

Automatic reprices: a new or corrected price entry queues one for the unpriced calls of its
model and validity; and a periodic pass reprices unpriced calls of models a price is now known
for. The leader's `prices` task runs both, and resumes a reprice a crash interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.errors import invalid
from promptpulse.ingest.pricing import resolve
from promptpulse.meta import MetaDB, PriceBook
from promptpulse.model import CATALOG, Dimension, Filter, PriceEntry, Scope
from promptpulse.prices import audit
from promptpulse.prices.audit import RepriceRequest
from promptpulse.prices.plan import CALL_COLUMNS, Plan, merge_rows, plan, totals
from promptpulse.store import Store
from promptpulse.tasks import STOP_WAIT_S, DaemonTask

log = logging.getLogger("promptpulse.prices")

# "Since always" as a reprice range: no call is older (the store keeps UTC times from here).
SINCE_ALWAYS = datetime(2000, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
FIRST_UNPRICED_PASS_S = 60.0


class RepriceService:
    def __init__(
        self,
        store: Store,
        meta: MetaDB,
        clock: Callable[[], datetime],
        replica: str,
        shared: bool = False,
        interval_s: float = 5.0,
        unpriced_interval_s: float = 3600.0,
    ) -> None:
        self.store, self.meta, self.clock = store, meta, clock
        # This process: a restarted replica resumes what a dead process of it left running.
        self.owner = f"{replica}:{uuid.uuid4().hex[:12]}"
        self.shared = shared  # replicas share the metadata: resume only this replica's rows
        self.interval_s = interval_s
        self.unpriced_interval_s = unpriced_interval_s
        self._unpriced_due: float | None = None  # the first pass: a minute after start-up
        # Set when the server stops: the rounds end between two reprices, never inside one
        # (on ClickHouse a rebuild cut short leaves a day's rollups missing until resumed).
        self.stopping = threading.Event()
        # Reprices asked over the API run here, one at a time, outliving their request.
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptpulse-reprice")
        self._running: set[Future[dict[str, Any]]] = set()

    # ------------------------------------------------------------ one reprice

    def reprice(self, req: RepriceRequest) -> dict[str, Any]:
        """Dry run: the report only. Otherwise the costs are written (through `start`, so one
        reprice at a time) and the audit row done."""
        if req.dry_run:
            check(req)
            return _result(None, "dry_run", self.compute(req))
        return self.start(req)[1].result()

    def start(self, req: RepriceRequest) -> tuple[int, Future[dict[str, Any]]]:
        """A reprice that writes, begun in the service's own thread: its audit id, and its
        result to come (the caller may stop waiting; the audit trail tells the end)."""
        check(req)
        reprice_id = audit.queue(self.meta, req, status="running", owner=self.owner)
        future = self._runner.submit(self._apply, reprice_id, req, False)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return reprice_id, future

    def close(self) -> None:
        """At shutdown, before the store closes: no new round, and the running reprice gets
        STOP_WAIT_S to end; one still running then stays `running` in the audit trail, and
        the next start resumes it (DuckDB rolls its transaction back)."""
        self.stopping.set()
        for future in list(self._running):
            with contextlib.suppress(Exception):  # its audit row says how it ended
                future.result(timeout=STOP_WAIT_S)
        self._runner.shutdown(wait=False, cancel_futures=True)

    def compute(self, req: RepriceRequest) -> Plan:
        """The plan over the days of the range that hold calls, one day read at a time."""
        book = PriceBook(self.meta, ttl_s=math.inf)  # one snapshot of the book, read now
        out = Plan()
        for lo, hi in self._days(req):
            calls = self.store.call_table(_scope(req, lo, hi), CALL_COLUMNS)
            out.add(plan(calls, book.lookup, req.unpriced_only))
        out.rows = merge_rows(out.rows)
        return out

    def _days(self, req: RepriceRequest) -> list[tuple[datetime, datetime]]:
        """The days with calls to reprice, within what can hold calls at all (none is older
        than SINCE_ALWAYS nor more than a day ahead), so that any range is a cheap question."""
        lo, hi = max(req.start, SINCE_ALWAYS), min(req.end, self.clock() + 2 * _DAY)
        if lo >= hi:
            return []
        metric = CATALOG["unpriced_requests" if req.unpriced_only else "requests"]
        rows = self.store.aggregate(_scope(req, lo, hi), [metric], interval="day")
        days = [r.t for r in rows if r.t is not None and (r.values.get(metric.name) or 0) > 0]
        return [(max(lo, d), min(hi, d + _DAY)) for d in days]

    def _apply(self, reprice_id: int, req: RepriceRequest, resumed: bool) -> dict[str, Any]:
        try:
            found = self.compute(req)
            # A resumed reprice rebuilds every day it read: a crash on ClickHouse may have
            # left new costs under old rollups, which the plan no longer sees as changes.
            days = found.seen_days | found.changed_days if resumed else found.changed_days
            self.store.apply_costs(found.change_table(), sorted(days))
        except Exception as exc:
            if not self.stopping.is_set():  # cut by a shutdown: left running, to be resumed
                error = f"{type(exc).__name__}: {exc}"
                audit.finish(self.meta, reprice_id, [], {}, "failed", error)
            raise
        audit.finish(self.meta, reprice_id, found.rows, totals(found.rows))
        return _result(reprice_id, "done", found)

    # ------------------------------------------------------------ automatic reprices

    def queue_for_entry(self, entry: PriceEntry) -> int:
        """The unpriced calls of a new or corrected entry's model and validity, repriced by
        the leader's next round."""
        now = self.clock()
        req = RepriceRequest(
            start=entry.valid_from or SINCE_ALWAYS,
            end=entry.valid_to or (now + _DAY),
            project=entry.project,
            model=entry.price.model,
            dry_run=False,
            unpriced_only=True,
            actor=f"price entry {entry.id}",
            automatic=True,
        )
        return audit.queue(self.meta, req)

    def run_pending(self) -> int:
        """Queued reprices, and running ones a dead process left: with a metadata database of
        its own (one server) every running row of another process; with replicas sharing it,
        only rows of this replica (a stable PROMPTPULSE_REPLICA_ID) from an earlier process."""
        done = 0
        for row in audit.pending(self.meta, self.owner):
            if self.stopping.is_set():
                break
            if row.status == "running" and self.shared and not self._mine(row.actor):
                continue
            if row.status == "queued" and not audit.claim(self.meta, row.id, self.owner):
                continue
            resumed = row.status == "running"
            if resumed:
                log.warning("resuming reprice %s, interrupted by a crash", row.id)
            try:
                self._apply(row.id, audit.request_of(row), resumed)
                done += 1
            except Exception:
                log.exception("reprice %s failed", row.id)
        return done

    def _mine(self, actor: str) -> bool:
        return actor.rsplit("@", 1)[-1].rsplit(":", 1)[0] == self.owner.rsplit(":", 1)[0]

    def reprice_unpriced(self) -> int:
        """Unpriced calls of the models that have a price now (genai-prices learnt it, or the
        book has an entry), per (project, model); recorded when something changed."""
        now = self.clock()
        scope = Scope(SINCE_ALWAYS, now + _DAY)
        metric = CATALOG["unpriced_requests"]
        dims = [Dimension("project"), Dimension("model"), Dimension("provider")]
        book = PriceBook(self.meta, ttl_s=math.inf)
        booked = {(e.project, e.price.model) for e in book.entries()}
        todo: set[tuple[str, str]] = set()
        for row in self.store.aggregate(scope, [metric], group_by=dims):
            project, model, provider = row.group
            if not row.values.get(metric.name):
                continue
            known = resolve(provider.lower() if provider else None, model, now.date())
            if (project, model) in booked or known.formula is not None:
                todo.add((project, model))
        repriced = 0
        for project, model in sorted(todo):
            if self.stopping.is_set():
                break
            req = RepriceRequest(
                scope.start, scope.end, project, model, False, True, "unpriced pass", True
            )
            found = self.compute(req)
            if found.change_table().num_rows == 0:
                continue  # nothing known for their days yet: no audit row
            reprice_id = audit.queue(self.meta, req, status="running", owner=self.owner)
            repriced += self._apply(reprice_id, req, resumed=False)["totals"]["repriced"]
        return repriced

    def run_once(self) -> None:
        self.run_pending()
        now = self.clock().timestamp()
        if self._unpriced_due is None:  # not at start-up, when the server is busiest
            self._unpriced_due = now + min(FIRST_UNPRICED_PASS_S, self.unpriced_interval_s)
        if now >= self._unpriced_due and not self.stopping.is_set():
            self._unpriced_due = now + self.unpriced_interval_s
            self.reprice_unpriced()

    def daemon(self) -> DaemonTask:
        async def once() -> None:
            await asyncio.to_thread(self.run_once)

        return DaemonTask("prices", self.interval_s, once, on_stop=self.stopping.set)


def check(req: RepriceRequest) -> None:
    for name, value in (("from", req.start), ("to", req.end)):
        if value.tzinfo is None:
            raise invalid(name, "must carry a UTC offset (2026-11-01T00:00:00Z)")
    if req.end <= req.start:
        raise invalid("to", "must be after from")


def _scope(req: RepriceRequest, lo: datetime, hi: datetime) -> Scope:
    filters = []
    if req.project is not None:
        filters.append(Filter("project", (req.project,)))
    if req.model is not None:
        filters.append(Filter("model", (req.model,)))
    return Scope(lo, hi, tuple(filters))


def _result(reprice_id: int | None, status: str, found: Plan) -> dict[str, Any]:
    return {
        "id": reprice_id,
        "status": status,
        "rows": [r.as_dict() for r in found.rows],
        "totals": totals(found.rows),
    }
