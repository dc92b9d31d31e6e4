"""ClickHouse, the scale-out event store: a real server (`clickhouse://`) or the same engine
embedded in the process (`chdb://`), both through clickhouse-connect. Schema and migrations,
the buffered writer, the SQL compiler, rollups fed by materialized views, retention, erasure,
exports and cohorts."""

from promptpulse.store.click.store import ClickStore

__all__ = ["ClickStore"]
