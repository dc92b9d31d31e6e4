"""Every service the routes need, built once by create_app and reached through `context(request)`.

Nothing else lives on `app.state`: a route finds the store, the metadata, the writer and each
feature's service here, and tests build the same context around a store of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from promptpulse.config import Settings
from promptpulse.errors import Overloaded
from promptpulse.ingest.otlp_recent import RecentSpans
from promptpulse.ingest.parse_pool import ParsePool
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta.lease import Lease
from promptpulse.meta.prices import PriceBook
from promptpulse.observability import ServerMetrics
from promptpulse.store import Store
from promptpulse.web.changes import ChangeFeed
from promptpulse.web.keycache import FailureThrottle, KeyCache

if TYPE_CHECKING:
    from promptpulse.alerts import AlertService
    from promptpulse.budgets import BudgetChecker
    from promptpulse.exports.service import ExportService
    from promptpulse.prices import RepriceService
    from promptpulse.reports import ReportService
    from promptpulse.retention import RetentionService


T = TypeVar("T")


@dataclass
class AppContext:
    settings: Settings
    store: Store
    meta: MetaDB
    writer: Writer
    prices: PriceBook
    clock: Callable[[], datetime]
    metrics: ServerMetrics
    changes: ChangeFeed
    alerts: AlertService
    budget_checks: BudgetChecker
    retention: RetentionService
    exports: ExportService
    reports: ReportService
    lease: Lease  # whether this replica runs the periodic jobs
    reprices: RepriceService
    # hashes of known keys, trusted for a second: a key revoked anywhere stops working here
    key_cache: KeyCache = field(default_factory=KeyCache)
    auth_failures: FailureThrottle = field(default_factory=FailureThrottle)
    # LLM spans this replica stored recently: a span of the same call in a later OTLP export is
    # a duplicate.
    recent_spans: RecentSpans = field(default_factory=RecentSpans)
    parse_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PARSE_SLOTS))
    parse_pool: ParsePool | None = None  # None: events are parsed in threads
    parse_waiting_bytes: int = 0


# Parsing and validating a batch is CPU work: it runs in worker threads so that the event loop
# keeps answering (health checks, dashboards), a few batches at a time so that eight clients
# sending 10,000-event batches queue for a slot instead of sharing the GIL forty ways.
PARSE_SLOTS = 2


async def off_loop(
    ctx: AppContext, size: int, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """`fn(*args, **kwargs)` in a worker thread, at most PARSE_SLOTS (or as many as there are
    parse workers) at once. `size`: the bytes it works on; while more than two full bodies'
    worth already wait for a slot, refuse (429) so that an acknowledgement's wait stays bounded
    (small batches are never refused so)."""
    limit = 2 * ctx.settings.max_body_bytes
    if ctx.parse_slots.locked() and ctx.parse_waiting_bytes + size > limit:
        raise Overloaded("too many batches are waiting to be parsed; retry later", retry_after_s=1)
    ctx.parse_waiting_bytes += size
    waiting = True
    try:
        async with ctx.parse_slots:
            ctx.parse_waiting_bytes -= size
            waiting = False
            return await run_in_threadpool(fn, *args, **kwargs)
    finally:
        if waiting:  # cancelled (the client went away) while waiting for a slot
            ctx.parse_waiting_bytes -= size


def context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]
