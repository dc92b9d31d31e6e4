"""The `promptpulse` command. Thin: each module parses one command group's options and hands
them to the services the server itself uses; domain errors become clear messages here.

    serve        serve, demo                   local        --data-dir, stopped store, metadata
    ingest       ingest FILE.jsonl             remote       --url/--api-key, client, problems
    query        query overview|...            output       the stdout and stderr consoles
    export       export                        keys         keys create|list|revoke
    reports      report                        prices       prices set|list|delete
    experiments  experiments ...               alerts       alerts apply|rules|list|...
    lifecycle    rollups ..., retention ...    ids          unique id prefixes typed back
    migrate      migrate --to ... --metadata   (a data directory up to ClickHouse + PostgreSQL)
"""

from __future__ import annotations

import sys

import httpx
import typer

from promptpulse.cli import (
    alerts,
    experiments,
    export,
    ingest,
    keys,
    lifecycle,
    migrate,
    prices,
    query,
    reports,
    serve,
)
from promptpulse.cli.output import err, problem_lines
from promptpulse.errors import PromptPulseError

app = typer.Typer(
    help="PromptPulse: analytics for LLM prompts in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Commands are listed in --help in this order, single commands first, then the groups.
for group in (serve, ingest, query, export, reports, keys, prices, experiments, alerts, lifecycle,
              migrate):  # fmt: skip
    group.register(app)


def main() -> None:
    try:
        app(prog_name="promptpulse")
    except PromptPulseError as exc:
        first, *rest = problem_lines(exc.detail, ((e.field, e.message) for e in exc.errors))
        err.print(f"[red]error:[/red] {first}", highlight=False)
        for line in rest:
            err.print(line, highlight=False, markup=False)
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


__all__ = ["app", "main"]
