"""The `promptpulse` command. Thin: parse, build, run; domain errors become clear messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from promptpulse.cli import lifecycle as cli_lifecycle
from promptpulse.cli import remote as cli_remote
from promptpulse.cli import reports as cli_reports
from promptpulse.cli.alerts import alerts_app
from promptpulse.cli.experiments import experiments_app
from promptpulse.config import Settings
from promptpulse.errors import PromptPulseError

app = typer.Typer(
    help="PromptPulse: analytics for LLM prompts in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
prices_app = typer.Typer(
    help="Per-project price overrides (USD per million tokens).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(prices_app, name="prices")
app.add_typer(experiments_app, name="experiments")
app.add_typer(alerts_app, name="alerts")
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (env PROMPTPULSE_DATA_DIR, default ./promptpulse-data)"
    ),
]
Host = Annotated[str | None, typer.Option(help="Listen address (env PROMPTPULSE_HOST)")]
Port = Annotated[int | None, typer.Option(help="Listen port (env PROMPTPULSE_PORT)")]


def settings_from(data_dir: Path | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning")] = None,
) -> None:
    """Run the server: API, dashboard and background jobs, on one data directory."""
    from promptpulse.server import run

    run(settings_from(data_dir, host=host, port=port, log_level=log_level))


@app.command()
def demo(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    days: Annotated[int, typer.Option(help="Days of history to seed")] = 7,
    rpm: Annotated[float, typer.Option(help="Average calls per minute at the daily peak")] = 20,
    trickle: Annotated[bool, typer.Option(help="Keep adding live calls while it runs")] = True,
) -> None:
    """Seed realistic traffic (once), print a URL and a key, and serve with a live trickle."""
    from promptpulse.demo import run_demo

    run_demo(settings_from(data_dir, host=host, port=port), days, rpm, trickle, console)


@keys_app.command("create")
def keys_create(
    project: Annotated[
        str | None, typer.Option(help="The key's project (omit for an admin key)")
    ] = None,
    scopes: Annotated[str, typer.Option(help="Comma list of ingest, read, admin")] = "ingest,read",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key. Its secret is the last line printed, and is never shown again."""
    from promptpulse.meta import MetaDB, create_key
    from promptpulse.meta.keys import parse_scopes

    meta = MetaDB(settings_from(data_dir).metadata_db_url)
    key, secret = create_key(meta, project, parse_scopes(scopes), name)
    console.print(
        f"created key {key.id} for project {key.project or '* (admin)'} "
        f"with scopes {','.join(sorted(s.value for s in key.scopes))}"
    )
    print(secret)


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option()] = None, data_dir: DataDir = None
) -> None:
    """List keys (never their secrets)."""
    from rich.table import Table

    from promptpulse.meta import MetaDB, list_keys

    table = Table("id", "prefix", "project", "scopes", "name", "created", "revoked")
    for k in list_keys(MetaDB(settings_from(data_dir).metadata_db_url), project):
        d = k.as_dict()
        table.add_row(
            k.id,
            k.prefix + "…",
            k.project or "* (admin)",
            ",".join(sorted(s.value for s in k.scopes)),
            k.name or "",
            str(d["created_at"])[:19],
            str(d["revoked_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key by id; it stops working within a second, even on a running server."""
    from promptpulse.meta import MetaDB, revoke_key

    revoke_key(MetaDB(settings_from(data_dir).metadata_db_url), key_id)
    console.print(f"revoked {key_id}")


@prices_app.command("set")
def prices_set(
    model: str,
    project: Annotated[str, typer.Option(help="Project the price applies to")],
    input_per_mtok: Annotated[float, typer.Option("--input", help="USD per 1M input tokens")],
    output_per_mtok: Annotated[float, typer.Option("--output", help="USD per 1M output tokens")],
    cached_per_mtok: Annotated[
        float | None,
        typer.Option("--cached", help="USD per 1M cached input tokens (default: the input price)"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set a model's price for a project; new calls use it within two seconds."""
    from promptpulse.ingest.pricing import PriceOverride
    from promptpulse.meta import MetaDB, set_price

    meta = MetaDB(settings_from(data_dir).metadata_db_url)
    set_price(meta, project, PriceOverride(model, input_per_mtok, output_per_mtok, cached_per_mtok))
    console.print(
        f"price of {model} in {project}: ${input_per_mtok}/M input, ${output_per_mtok}/M output"
    )


@prices_app.command("list")
def prices_list(
    project: Annotated[str | None, typer.Option()] = None, data_dir: DataDir = None
) -> None:
    """List price overrides."""
    from rich.table import Table

    from promptpulse.meta import MetaDB, list_prices

    table = Table("project", "model", "input $/M", "output $/M", "cached $/M")
    for proj, o in list_prices(MetaDB(settings_from(data_dir).metadata_db_url), project):
        table.add_row(
            proj,
            o.model,
            f"{o.input_per_mtok:g}",
            f"{o.output_per_mtok:g}",
            "" if o.cached_input_per_mtok is None else f"{o.cached_input_per_mtok:g}",
        )
    console.print(table)


@prices_app.command("delete")
def prices_delete(
    model: str, project: Annotated[str, typer.Option()], data_dir: DataDir = None
) -> None:
    """Remove a price override."""
    from promptpulse.meta import MetaDB, delete_price

    delete_price(MetaDB(settings_from(data_dir).metadata_db_url), project, model)
    console.print(f"removed the price of {model} in {project}")


cli_remote.register(app)
cli_lifecycle.register(app)
cli_reports.register(app)


def main() -> None:
    try:
        app()
    except PromptPulseError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        for e in exc.errors:
            err.print(f"  {e.field}: {e.message}")
        sys.exit(2)
    except httpx.TransportError as exc:  # `ingest`/`query` with no server there
        try:
            where = str(exc.request.url.copy_with(query=None))
        except RuntimeError:
            where = "the server"
        err.print(
            f"[red]error:[/red] cannot reach {where} ({exc}); is `promptpulse serve` "
            "running, and is PROMPTPULSE_URL right?"
        )
        sys.exit(2)
