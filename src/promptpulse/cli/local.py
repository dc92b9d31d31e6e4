"""A data directory opened by the command itself: settings from `--data-dir`, the event store
(server stopped: DuckDB admits one process) and the metadata database (SQLite in WAL mode or
PostgreSQL: usable while the server runs). Commands hand what they open to the same services the
server builds; none opens a backend or creates a table by hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable

if TYPE_CHECKING:
    from promptpulse.meta import MetaDB
    from promptpulse.store import Store

# Two help texts, as the commands have always shown them.
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env PROMPTPULSE_DATA_DIR)")
]
DataDirOrDefault = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (env PROMPTPULSE_DATA_DIR, default ./promptpulse-data)"
    ),
]
MAINTENANCE_TIMEOUT_S = 3600.0  # rebuilding or erasing may take long: no query limit to speak of


def settings_from(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with the options given on the command line on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


@contextmanager
def stopped_store(settings: Settings) -> Iterator[Store]:
    """The event store of a data directory whose server is stopped, closed on the way out."""
    from promptpulse.store import open_store

    try:
        store = open_store(settings.model_copy(update={"query_timeout_s": MAINTENANCE_TIMEOUT_S}))
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"{exc.detail}. Is the server running on this data directory? Stop it, or use the "
            "API (POST /v1/rollups/rebuild, /v1/retention/apply, /v1/erasure) with an admin key."
        ) from exc
    try:
        yield store
    finally:
        store.close()


@contextmanager
def metadata(settings: Settings) -> Iterator[MetaDB]:
    """The metadata database (keys, prices, rules, policies), closed on the way out."""
    from promptpulse.cli.output import err
    from promptpulse.meta import MetaDB

    fresh = settings.metadata_url is None and not any(
        p.exists() for p in (settings.data_dir / "metadata.sqlite", settings.duckdb_path)
    )
    if fresh:  # a listing here would be empty for no visible reason: say where it looked
        err.print(
            f"[dim]note: {settings.data_dir} holds no PromptPulse data yet (a new metadata "
            "database is made there); give --data-dir (or PROMPTPULSE_DATA_DIR) of the "
            "directory the server runs on[/dim]",
            highlight=False,
        )
    meta = MetaDB(settings.metadata_db_url, settings.secret_keys)
    try:
        yield meta
    finally:
        meta.close()
