"""`promptpulse demo`: seed history once, make a key, serve with a live trickle of calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console

from promptpulse.config import Settings
from promptpulse.demo.seed import PROJECT, prepared, seed
from promptpulse.demo.traffic import DemoTraffic, rate_per_minute
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.tasks import DaemonTask
from promptpulse.web.context import AppContext


def trickle_task(ctx: AppContext, rpm: float = 20.0) -> DaemonTask:
    """Live calls at the seeded traffic's own rate, through the same path as the API."""
    traffic = DemoTraffic(seed=int(datetime.now(UTC).timestamp()))
    last = [ctx.clock()]

    async def once() -> None:
        now = ctx.clock()
        events = traffic.between(last[0], now, per_second=rate_per_minute(now, rpm) / 60)
        last[0] = now
        if events:
            await ctx.writer.write("events", prepared(events, ctx.prices, now))

    return DaemonTask("demo-trickle", 1.0, once)


def run_demo(settings: Settings, days: int, rpm: float, trickle: bool, console: Console) -> None:
    from promptpulse.server import run

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    seed(settings, days, rpm, console)
    meta = MetaDB(settings.metadata_db_url)
    _, secret = create_key(meta, PROJECT, frozenset({Scope.INGEST, Scope.READ}), "demo")
    _, admin = create_key(meta, None, frozenset({Scope.ADMIN}), "demo admin")
    meta.close()
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
