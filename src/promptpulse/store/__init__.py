"""The event store: its protocol and `open_store(settings)`. Features use only this door; the
backends (`duck/`: DuckDB, the embedded default; `click/`: ClickHouse, a server or chdb) live
behind it and own all of their SQL."""

from __future__ import annotations

from promptpulse.config import Settings
from promptpulse.store.deadline import Deadline
from promptpulse.store.deadline import active as with_deadline
from promptpulse.store.protocol import Record, Store, StoreWriter
from promptpulse.store.url import parse_store_url


def open_store(settings: Settings) -> Store:
    """The event store `PROMPTPULSE_STORE_URL` names (default: the DuckDB file in the data
    directory). A backend, and its driver, is imported only when chosen: chdb alone costs
    ~240 MB of memory."""
    target = parse_store_url(settings.store_url, settings.duckdb_path)
    if target.engine == "duckdb":
        from promptpulse.store.duck import DuckStore

        assert target.path is not None
        if settings.store_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return DuckStore(
            target.path,
            settings.duckdb_memory_limit,
            settings.duckdb_threads,
            settings.query_timeout_s,
            settings.rollup_min_calls,
            settings.duckdb_checkpoint_threshold,
            settings.query_concurrency,
            settings.query_share,
        )
    from promptpulse.store.click import ClickStore

    return ClickStore(target, settings)


__all__ = ["Deadline", "Record", "Store", "StoreWriter", "open_store", "with_deadline"]
