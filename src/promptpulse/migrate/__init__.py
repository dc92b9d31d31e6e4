"""Moving up: a DuckDB data directory copied into the scale-out stores (ClickHouse for calls and
scores, PostgreSQL for metadata). `promptpulse migrate` drives it; see docs/deploy-scale.md."""

from promptpulse.migrate.copy import Migration, MigrationReport

__all__ = ["Migration", "MigrationReport"]
