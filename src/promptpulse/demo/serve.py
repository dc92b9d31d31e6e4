"""`promptpulse demo`: seed history once, make a key, serve with a live trickle of calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
from rich.console import Console

from promptpulse.config import Settings
from promptpulse.demo.traffic import DemoTraffic, rate_per_minute
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.ingest.pricing import PriceOverride
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB, Scope, create_key, set_price
from promptpulse.meta.prices import OverrideCache
from promptpulse.store import open_store
from promptpulse.tasks import DaemonTask
from promptpulse.web.context import AppContext

PROJECT = "demo"
CHUNK = 5_000


def seed(settings: Settings, days: int, rpm: float, console: Console) -> int:
    """Write `days` of traffic ending now, unless the store already holds events."""
    store = open_store(settings)
    try:
        existing = store.row_counts()["calls"]
        if existing:
            console.print(f"[dim]{existing:,} events already stored; not seeding again[/dim]")
            return 0
        meta = MetaDB(settings.metadata_db_url)
        # The self-hosted model has no public price: the demo shows a project's own override.
        set_price(meta, PROJECT, PriceOverride("llama-3.1-70b-selfhosted", 0.6, 0.6))
        prices = OverrideCache(meta)
        writer = Writer(store)
        writer.start()
        now = datetime.now(UTC)
        start = now - timedelta(days=days)
        traffic = DemoTraffic(base_rpm=rpm)
        batch: list[dict[str, object]] = []
        total = 0
        with console.status("seeding demo traffic…"):
            for minute in traffic.minutes(start, now):
                batch.extend(minute)
                if len(batch) >= CHUNK:
                    total += _write(writer, batch, prices, now)
                    batch = []
            total += _write(writer, batch, prices, now)
        writer.stop()
        console.print(f"seeded {total:,} calls over {days} days")
        return total
    finally:
        store.close()


def _write(
    writer: Writer, events: list[dict[str, object]], prices: OverrideCache, now: datetime
) -> int:
    if not events:
        return 0
    prepared = prepare_events(
        orjson.dumps({"events": events}),
        key_project=PROJECT,
        overrides=prices.lookup,
        now=now,
        max_events=len(events),
    )
    return writer.write_sync("events", prepared.table).accepted


def trickle_task(ctx: AppContext, rpm: float = 20.0) -> DaemonTask:
    """Live calls at the seeded traffic's own rate, through the same path as the API."""
    traffic = DemoTraffic(seed=int(datetime.now(UTC).timestamp()))
    last = [ctx.clock()]

    async def once() -> None:
        now = ctx.clock()
        events = traffic.between(last[0], now, per_second=rate_per_minute(now, rpm) / 60)
        last[0] = now
        if events:
            prepared = prepare_events(
                orjson.dumps({"events": events}),
                key_project=PROJECT,
                overrides=ctx.prices.lookup,
                now=now,
                max_events=len(events),
            )
            await ctx.writer.write("events", prepared.table)

    return DaemonTask("demo-trickle", 1.0, once)


def run_demo(settings: Settings, days: int, rpm: float, trickle: bool, console: Console) -> None:
    from promptpulse.server import run

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    seed(settings, days, rpm, console)
    meta = MetaDB(settings.metadata_db_url)
    _, secret = create_key(meta, PROJECT, frozenset({Scope.INGEST, Scope.READ}), "demo")
    _, admin = create_key(meta, None, frozenset({Scope.ADMIN}), "demo admin")
    url = f"http://{settings.host}:{settings.port}"

    def started() -> None:
        console.print(f"\n[bold green]PromptPulse demo is running[/bold green] at {url}/")
        console.print(f"  API docs:   {url}/docs")
        console.print(f"  admin key:  {admin}")
        console.print(f"  API key (project '{PROJECT}', ingest+read):")
        console.print(secret, soft_wrap=True)

    asyncio.set_event_loop_policy(None)
    tasks = [lambda ctx: trickle_task(ctx, rpm)] if trickle else []
    run(settings, tasks, on_started=started)
