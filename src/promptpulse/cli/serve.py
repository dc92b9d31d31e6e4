"""`promptpulse serve` and `promptpulse demo`: the server on one data directory (the demo seeds
it first and adds a live trickle of calls)."""

from __future__ import annotations

from typing import Annotated

import typer

from promptpulse.cli.local import DataDirOrDefault, settings_from
from promptpulse.cli.output import console

Host = Annotated[str | None, typer.Option(help="Listen address (env PROMPTPULSE_HOST)")]
Port = Annotated[int | None, typer.Option(help="Listen port (env PROMPTPULSE_PORT)")]


def serve(
    data_dir: DataDirOrDefault = None,
    host: Host = None,
    port: Port = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning")] = None,
) -> None:
    """Run the server: API, dashboard and background jobs, on one data directory."""
    from promptpulse.server import run

    run(settings_from(data_dir, host=host, port=port, log_level=log_level))


def demo(
    data_dir: DataDirOrDefault = None,
    host: Host = None,
    port: Port = None,
    days: Annotated[int, typer.Option(help="Days of history to seed")] = 7,
    rpm: Annotated[float, typer.Option(help="Average calls per minute at the daily peak")] = 20,
    trickle: Annotated[bool, typer.Option(help="Keep adding live calls while it runs")] = True,
) -> None:
    """Seed realistic traffic (once), print a URL and a key, and serve with a live trickle."""
    from promptpulse.demo import run_demo

    run_demo(settings_from(data_dir, host=host, port=port), days, rpm, trickle, console)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("demo")(demo)
