"""`promptpulse demo`: seed history and objects once, reuse (or make) its key, serve with a live
trickle of calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape

from promptpulse.config import Settings
from promptpulse.demo.key import demo_key, key_path
from promptpulse.demo.seed import PROJECT, prepared, seed
from promptpulse.demo.traffic import DemoTraffic, rate_per_minute
from promptpulse.meta import MetaDB
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
    meta = MetaDB(settings.metadata_db_url, settings.secret_keys)
    try:
        secret, minted = demo_key(settings, meta)
    finally:
        meta.close()
    url = f"http://{settings.host}:{settings.port}"
    kept = "new, kept in" if minted else "reused from"

    def started() -> None:
        lines = (
            f"\n[bold green]PromptPulse demo is running[/bold green] at {url}/",
            f"  open:      {url}/ and sign in with the key below",
            f"  API docs:  {url}/docs",
            f"  key:       project '{PROJECT}', scopes ingest,read,admin ({kept} "
            f"{escape(str(key_path(settings)))})",
            "  paste this for the CLI and curl:",
        )
        for line in lines:
            console.print(line, soft_wrap=True, highlight=False)
        console.print(
            f"export PROMPTPULSE_URL={url} PROMPTPULSE_API_KEY={secret}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )

    asyncio.set_event_loop_policy(None)
    tasks = [lambda ctx: trickle_task(ctx, rpm)] if trickle else []
    run(settings, tasks, on_started=started)
