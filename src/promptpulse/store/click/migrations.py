"""The ClickHouse event store's schema, as numbered migrations applied in order at start-up.

Each migration is a list of statements generated for the layout (single node or cluster) and
must be idempotent (IF NOT EXISTS): replicas starting together may both apply one. A new record
field is one line: `lambda layout: add_columns(layout, "events", "<field>")`, its type taken from
`model.records`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from promptpulse.errors import SchemaTooNew
from promptpulse.store.click import rollup_sql, schema
from promptpulse.store.click.schema import Layout

# The record fields the first migration created; later fields arrive by `add_columns`.
V1_CALL_FIELDS: tuple[str, ...] = (
    "project", "id", "timestamp", "prompt_id", "prompt_version", "model", "response_model",
    "provider", "environment", "feature", "user_id", "session_id", "service", "tags", "metadata",
    "status", "error_type", "error_message", "http_status", "latency_ms", "ttft_ms", "queue_ms",
    "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens",
    "cost_usd", "cache_hit", "retries", "received_at",
)  # fmt: skip
V1_SCORE_FIELDS: tuple[str, ...] = (
    "project", "id", "event_id", "name", "value", "comment", "source", "timestamp", "received_at",
)  # fmt: skip

# Numbered, applied in order; never edit one that has shipped, add the next.
MIGRATIONS: tuple[Callable[[Layout], list[str]], ...] = (
    # 1: calls, scores, the raw and rollup retention horizons.
    lambda layout: [
        *schema.events_ddl(layout, V1_CALL_FIELDS),
        *schema.scores_ddl(layout, V1_SCORE_FIELDS),
        *schema.horizons_ddl(layout),
    ],
    # 2: rollups (hourly, daily; mergeable sketches) fed by materialized views.
    rollup_sql.ddl,
    # 3: cost provenance (which price priced a call); calls stored before have none.
    lambda layout: schema.add_columns(layout, "events", "price_ref"),
)


def version_ddl(layout: Layout) -> list[str]:
    return layout.create_global(
        "schema_version", "version UInt32, applied DateTime DEFAULT now()", "version"
    )


def migrate(
    command: Callable[[str], object],
    scalar: Callable[[str], object],
    layout: Layout,
    migrations: Sequence[Callable[[Layout], list[str]]] = MIGRATIONS,
) -> int:
    """Bring the database to the newest schema; returns the version. Refuses a database that a
    newer PromptPulse migrated (its tables may not mean what this code thinks)."""
    for statement in version_ddl(layout):
        command(statement)
    current = int(scalar("SELECT max(version) FROM schema_version") or 0)  # type: ignore[call-overload]
    if current > len(migrations):
        raise SchemaTooNew(
            f"the ClickHouse event store is at schema version {current}, newer than this "
            f"PromptPulse knows ({len(migrations)}): upgrade PromptPulse"
        )
    for number, make in enumerate(migrations, start=1):
        if number > current:
            for statement in make(layout):
                command(statement)
            command(f"INSERT INTO schema_version (version) VALUES ({number})")
    return len(migrations)
