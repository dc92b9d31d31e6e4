"""`promptpulse migrate`: move a DuckDB data directory up to ClickHouse + PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Annotated

import typer

from promptpulse.cli.local import DataDirOrDefault, metadata, settings_from, stopped_store
from promptpulse.cli.output import console, err


def migrate(
    to: Annotated[
        str, typer.Option("--to", help="Event store URL: clickhouse://user:pass@host:8123/db")
    ],
    metadata_url: Annotated[
        str, typer.Option("--metadata", help="Metadata URL: postgresql+psycopg://user:pass@host/db")
    ],
    data_dir: DataDirOrDefault = None,
) -> None:
    """Copy a data directory (calls, scores, keys, rules, everything) into the scale-out stores.

    Stop the server first. Resumable: after a crash, run the same command again (what is already
    there is not copied twice). Ends with counts and sums per project compared on both sides."""
    from promptpulse.migrate import Migration
    from promptpulse.store import open_store

    settings = settings_from(data_dir)
    source = settings.model_copy(update={"store_url": None, "metadata_url": None})
    target = settings.model_copy(update={"store_url": to, "metadata_url": metadata_url})
    tag = hashlib.sha256(f"{to}\n{metadata_url}".encode()).hexdigest()[:12]
    progress = settings.data_dir / f"migrate-{tag}.json"
    console.print(f"from {source.data_dir} to {redact_url(to)} + {redact_url(metadata_url)}")
    with (
        stopped_store(source) as src_store,
        metadata(source) as src_meta,
        metadata(target) as dst_meta,
    ):
        dst_store = open_store(target)
        try:
            say = lambda line: console.print(line, highlight=False)  # noqa: E731
            report = Migration(src_store, src_meta, dst_store, dst_meta, progress, say).run()
        finally:
            dst_store.close()
    console.print(
        f"copied {report.calls:,} calls and {report.scores:,} scores "
        f"({len(report.months)} months this run), "
        f"{sum(report.metadata_rows.values()):,} metadata rows"
    )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    if not report.verified:
        for line in report.mismatches:
            err.print(f"[red]differs:[/red] {line}", highlight=False)
        raise typer.Exit(1)
    console.print("[green]verified:[/green] counts and sums per project are equal on both sides")


def redact_url(url: str) -> str:
    """A URL as it may be printed: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not URL-shaped: the store or database will say what is wrong
        return "<url>"


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
