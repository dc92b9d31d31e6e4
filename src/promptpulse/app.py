"""create_app(settings, ...) -> the ASGI app. The CLI and tests build it; nothing is global."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import FastAPI

from promptpulse import __version__, budgets, slos
from promptpulse.alerts import AlertService
from promptpulse.config import Settings
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta.prices import OverrideCache
from promptpulse.observability import ServerMetrics
from promptpulse.store.duckdb import DuckDBStore
from promptpulse.tasks import DaemonTask
from promptpulse.web import dashboard, problems
from promptpulse.web.api import alerts as alerts_api
from promptpulse.web.api import budgets as budgets_api
from promptpulse.web.api import calls, changes, forecast, health, ingest, metrics, otlp, prices
from promptpulse.web.api import compare as compare_api
from promptpulse.web.api import experiments as experiments_api
from promptpulse.web.api import lifecycle as lifecycle_api
from promptpulse.web.api import reports as reports_api
from promptpulse.web.api import slos as slos_api
from promptpulse.web.changes import ChangeFeed
from promptpulse.web.context import AppContext
from promptpulse.web.gzip_body import GzipRequestBody

log = logging.getLogger("promptpulse")


def utc_now() -> datetime:
    return datetime.now(UTC)


def alert_service(
    engine: sa.Engine, store: DuckDBStore, clock: Callable[[], datetime], settings: Settings
) -> AlertService:
    """The alert evaluator with its sources: budgets and SLOs register with it (alerts imports
    neither of them)."""
    budgets.create_tables(engine)
    slos.create_tables(engine)
    service = AlertService(engine, store, clock, settings)
    service.register_source(budgets.BudgetSource())
    service.register_source(slos.SloSource())
    return service


def create_app(
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
    extra_tasks: Sequence[Callable[[AppContext], DaemonTask]] = (),
) -> FastAPI:
    """The whole server on one data directory. Opening the store happens at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = DuckDBStore(
            settings.duckdb_path,
            settings.duckdb_memory_limit,
            settings.duckdb_threads,
            settings.query_timeout_s,
            settings.rollup_min_calls,
        )
        meta = MetaDB(settings.metadata_db_url)
        server_metrics = ServerMetrics()
        writer = Writer(
            store,
            queue_events=settings.writer_queue_events,
            group_events=settings.writer_group_events,
            on_commit=server_metrics.on_commit,
        )
        writer.start()
        server_metrics.watch_queue(lambda: writer.pending_events)
        ctx = AppContext(settings, store, meta, writer, OverrideCache(meta), clock, server_metrics)
        app.state.ctx = ctx
        app.state.key_cache = {}
        app.state.changes = ChangeFeed(asyncio.get_running_loop())
        writer.add_listener(app.state.changes.notify_threadsafe)
        app.state.alerts = alert_service(meta.engine, store, clock, settings)
        from promptpulse.lifecycle import lifecycle_tasks

        tasks = [
            app.state.alerts.daemon(),
            *lifecycle_tasks(app, ctx),
            *(make(ctx) for make in extra_tasks),
        ]
        for task in tasks:
            task.start()
        log.info("PromptPulse %s serving data from %s", __version__, settings.data_dir)
        try:
            yield
        finally:
            for task in tasks:
                await task.stop()
            writer.stop()
            store.close()
            meta.close()

    app = FastAPI(
        title="PromptPulse",
        version=__version__,
        description="Analytics and performance tracking for LLM prompts in production.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(GzipRequestBody, limit=settings.max_body_bytes)
    for router in (
        health.router,
        ingest.router,
        metrics.router,
        prices.router,
        forecast.router,
        changes.router,
        otlp.router,
        calls.router,
        dashboard.router,
        compare_api.router,
        experiments_api.router,
        alerts_api.router,
        budgets_api.router,
        slos_api.router,
        lifecycle_api.router,
        reports_api.router,
    ):
        app.include_router(router)
    return app
