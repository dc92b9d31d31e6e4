"""DuckDB, the embedded default event store: schema and migrations, the writer, the SQL compiler,
exact quantiles, rollups with sketches, retention, erasure, exports and cohorts."""

from promptpulse.store.duck.store import DuckStore

__all__ = ["DuckStore"]
