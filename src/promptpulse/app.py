"""create_app(settings, *, store, meta, clock) -> the ASGI app. The CLI and tests build it;
nothing is global. Every service is built once, at start-up, into one AppContext."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from promptpulse import __version__, budgets, slos
from promptpulse.alerts import AlertService
from promptpulse.config import Settings
from promptpulse.exports import MEDIA_TYPES, ExportService
from promptpulse.ingest.parse_pool import ParsePool
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta.changes import ChangeBus
from promptpulse.meta.changes import shared as shared_metadata
from promptpulse.meta.lease import Lease
from promptpulse.meta.prices import PriceBook
from promptpulse.observability import ServerMetrics
from promptpulse.prices import RepriceService
from promptpulse.reports import ReportService
from promptpulse.retention import RetentionService
from promptpulse.rollups import make_run_once
from promptpulse.store import Store, open_store
from promptpulse.tasks import DaemonTask
from promptpulse.web import dashboard, docs_ui, openapi, problems
from promptpulse.web.api import ROUTERS
from promptpulse.web.changes import AsOfHeader, ChangeFeed
from promptpulse.web.context import PARSE_SLOTS, AppContext
from promptpulse.web.gzip_body import GzipRequestBody
from promptpulse.web.header_limit import HeaderLimit
from promptpulse.web.keycache import FailureThrottle
from promptpulse.web.request_deadline import RequestDeadline

log = logging.getLogger("promptpulse")


def utc_now() -> datetime:
    return datetime.now(UTC)


def alert_service(
    meta: MetaDB, store: Store, clock: Callable[[], datetime], settings: Settings
) -> AlertService:
    """The alert evaluator with its sources: budgets and SLOs register with it (alerts imports
    neither of them)."""
    service = AlertService(meta.engine, store, clock, settings)
    service.register_source(budgets.budget_source())
    service.register_source(slos.slo_source())
    return service


def build_context(
    settings: Settings,
    store: Store,
    meta: MetaDB,
    clock: Callable[[], datetime],
    loop: asyncio.AbstractEventLoop,
) -> AppContext:
    """Every service, once, over one store and one metadata database (the writer not started)."""
    server_metrics = ServerMetrics()
    writer = Writer(
        store,
        queue_events=settings.writer_queue_events,
        group_events=settings.writer_group_events,
        queue_seconds=settings.writer_queue_s,
        on_commit=server_metrics.on_commit,
    )
    server_metrics.watch_queue(lambda: writer.pending_events)
    server_metrics.watch_store(store.load)
    changes = ChangeFeed(loop)
    if shared_metadata(meta.engine):  # replicas: every one's commits wake every one's waiters
        changes.bus = ChangeBus(meta.engine, changes.advance_threadsafe)
    writer.add_call_listener(changes.on_calls)  # Live deltas, sent by the listener below
    writer.add_listener(changes.notify_threadsafe)
    checks = budgets.BudgetChecker(meta.engine, store, clock, settings.budget_check_refresh_s)
    writer.add_call_listener(checks.on_calls)
    lease = Lease(meta, settings.replica_name, settings.lease_ttl_s)
    alerts = alert_service(meta, store, clock, settings)
    alerts.fence = lease.fence  # a periodic round writes only while this replica leads
    return AppContext(
        auth_failures=FailureThrottle(settings.auth_failures_burst, settings.auth_failures_per_s),
        settings=settings,
        store=store,
        meta=meta,
        writer=writer,
        prices=PriceBook(meta),
        clock=clock,
        metrics=server_metrics,
        changes=changes,
        alerts=alerts,
        budget_checks=checks,
        retention=RetentionService(meta.engine, store, settings, clock),
        exports=ExportService(store, settings, clock),
        reports=ReportService(meta.engine, store, clock, settings),
        lease=lease,
        parse_pool=ParsePool(settings.parse_workers) if settings.parse_workers else None,
        # every worker busy, and no more: a batch beyond them waits for a slot (or gets 429)
        parse_slots=asyncio.Semaphore(max(PARSE_SLOTS, settings.parse_workers)),
        reprices=RepriceService(
            store,
            meta,
            clock,
            settings.replica_name,
            shared_metadata(meta.engine),
            settings.reprice_interval_s,
            settings.unpriced_reprice_interval_s,
        ),
    )


def daemons(ctx: AppContext) -> list[DaemonTask]:
    """The background loops of every server (an interval of 0: that loop does not run): the
    jobs lease's renewal, and the periodic jobs, which run only while this replica holds it."""

    async def renew() -> None:
        await asyncio.to_thread(ctx.lease.renew)

    jobs = [_leader_only(ctx.lease, task) for task in periodic_jobs(ctx)]
    lease = DaemonTask("lease", ctx.settings.lease_renew_s, renew)
    return [lease, ctx.budget_checks.daemon(), *jobs]  # every replica keeps its budget state


def _leader_only(lease: Lease, task: DaemonTask) -> DaemonTask:
    """The task, skipping its rounds while another replica holds the jobs lease."""
    run_once = task.run_once

    async def when_leading() -> None:
        if lease.held():
            await run_once()

    task.run_once = when_leading
    return task


def periodic_jobs(ctx: AppContext) -> list[DaemonTask]:
    """Alert evaluation, rollup compaction, retention, scheduled exports and reports."""
    s = ctx.settings
    tasks = [ctx.alerts.daemon()]
    if s.rollup_interval_s > 0:
        compact = make_run_once(ctx.store, ctx.clock, s.rollup_grace_s)
        tasks.append(DaemonTask("rollups", s.rollup_interval_s, compact))
    if s.retention_interval_s > 0:

        async def apply_retention() -> None:
            await asyncio.to_thread(ctx.retention.apply)

        tasks.append(DaemonTask("retention", s.retention_interval_s, apply_retention))
    if s.reprice_interval_s > 0:
        tasks.append(ctx.reprices.daemon())
    tasks += ctx.exports.daemons()
    tasks.append(ctx.reports.daemon())
    return tasks


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    meta: MetaDB | None = None,
    clock: Callable[[], datetime] = utc_now,
    extra_tasks: Sequence[Callable[[AppContext], DaemonTask]] = (),
) -> FastAPI:
    """The whole server. The store and metadata database are opened at start-up from the
    settings unless given (then the caller owns them and closes them)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            own_store = store or open_store(settings)
            if store is None:
                stack.callback(own_store.close)
            own_meta = meta or MetaDB(settings.metadata_db_url, settings.secret_keys)
            if meta is None:
                stack.callback(own_meta.close)
            ctx = build_context(settings, own_store, own_meta, clock, asyncio.get_running_loop())
            stack.push_async_callback(asyncio.to_thread, ctx.reprices.close)  # before the store
            ctx.changes.start()
            stack.callback(ctx.changes.stop)
            ctx.writer.start()
            stack.callback(ctx.writer.stop)
            if ctx.parse_pool is not None:
                ctx.parse_pool.start()
                stack.callback(ctx.parse_pool.close)  # after the last request, before the writer
            await asyncio.to_thread(ctx.lease.renew)  # the first rounds need not wait for it
            stack.callback(ctx.lease.release)  # after every job stopped: another leads at once
            app.state.ctx = ctx
            tasks = [*daemons(ctx), *(make(ctx) for make in extra_tasks)]
            for task in tasks:
                task.start()
                stack.push_async_callback(task.stop)
            _private_data_dir(settings)
            if not settings.secret_key:
                log.warning(
                    "PROMPTPULSE_SECRET_KEY is not set: channel secrets (webhook URLs, routing "
                    "keys, signing secrets) are stored in plain text in the metadata database"
                )
            log.info("PromptPulse %s serving data from %s", __version__, settings.data_dir)
            yield

    app = FastAPI(
        title="PromptPulse",
        version=__version__,
        description="Analytics and performance tracking for LLM prompts in production.",
        lifespan=lifespan,
        docs_url=None,  # docs_ui serves /docs from vendored files; no ReDoc (it needs a CDN)
        redoc_url=None,
    )
    _install_http(app, settings)
    return app


def _private_data_dir(settings: Settings) -> None:
    """The data directory and its databases readable by their owner only (files made later are
    private too: `promptpulse serve` runs with umask 077)."""
    if settings.data_dir.is_dir():
        settings.data_dir.chmod(0o700)
    for path in (settings.duckdb_path, settings.data_dir / "metadata.sqlite"):
        if path.is_file():
            path.chmod(0o600)


def _install_http(app: FastAPI, settings: Settings) -> None:
    """Problem details, body (de)compression, the API routers, the dashboard and /docs."""
    problems.install(app)
    openapi.install(app)
    app.add_middleware(GzipRequestBody, limit=settings.max_body_bytes)
    # Responses go out gzipped when the client accepts it (the 1.1 MB ECharts bundle, big JSON).
    # Export downloads (CSV, JSONL, Parquet) are sent as stored: Parquet is compressed already,
    # and gzipping a large file on the fly would cost CPU on the event loop and drop its
    # Content-Length and byte ranges (progress bars, resumed downloads).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1000,
        compresslevel=6,  # level 9 takes ~2x the time for <1% less on the ECharts bundle
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *MEDIA_TYPES.values()),
    )
    app.add_middleware(RequestDeadline, seconds=settings.query_timeout_s)
    app.add_middleware(AsOfHeader)  # which commits an answer holds, for Live tabs
    # Outermost: an oversized header block is refused before any middleware or route reads it.
    app.add_middleware(HeaderLimit, limit=settings.max_header_bytes)
    for router in ROUTERS:
        app.include_router(router)
    dashboard.install(app)
    docs_ui.install(app)
