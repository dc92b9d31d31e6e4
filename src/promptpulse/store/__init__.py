"""The event store: its protocol and `open_store(settings)`. Features use only this door; the
backends (`duck/`: DuckDB, the embedded default) live behind it and own all of their SQL."""

from __future__ import annotations

from promptpulse.config import Settings
from promptpulse.store.deadline import Deadline
from promptpulse.store.deadline import active as with_deadline
from promptpulse.store.protocol import Record, Store, StoreWriter


def open_store(settings: Settings) -> Store:
    """The event store the settings name (today: the DuckDB file in the data directory)."""
    from promptpulse.store.duck import DuckStore  # a backend loads only when chosen

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return DuckStore(
        settings.duckdb_path,
        settings.duckdb_memory_limit,
        settings.duckdb_threads,
        settings.query_timeout_s,
        settings.rollup_min_calls,
    )


__all__ = ["Deadline", "Record", "Store", "StoreWriter", "open_store", "with_deadline"]
