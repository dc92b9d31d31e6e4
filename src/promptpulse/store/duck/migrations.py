"""The DuckDB event store's schema, as numbered migrations applied in order at start-up."""

from __future__ import annotations

import duckdb

from promptpulse.model import PROVIDER_ALIASES
from promptpulse.store.duck import rollup_sql
from promptpulse.store.rollup_plan import LEVELS, ROLLUP_AGGS_V2, ROLLUP_AGGS_V4, agg_column

# Sums added to the rollups after they shipped; zero is exact for calls stored before (they had
# no such figure: the events column defaults to 0 as well).
_ADDED_ROLLUP_SUMS = "\n".join(
    f"ALTER TABLE rollup_{level} ADD COLUMN {agg_column(a)} BIGINT DEFAULT 0;"
    for level in LEVELS
    for a in ROLLUP_AGGS_V4
)


def _canonical_providers_sql() -> str:
    """Calls stored before provider names were canonical (`openai.chat`, `gcp.gen_ai`...), in
    the calls and in every rollup table, so breakdowns and filters see one name per provider."""
    renames = sorted((a, c) for a, c in PROVIDER_ALIASES.items() if a != c)
    case = " ".join(f"WHEN '{alias}' THEN '{canonical}'" for alias, canonical in renames)
    listed = ", ".join(f"'{alias}'" for alias, _ in renames)
    tables = ["events", *(f"rollup_{level}" for level in LEVELS)]
    tables += [table for level in LEVELS for table, _, _ in rollup_sql.sketch_tables(level)]
    return "\n".join(
        f"UPDATE {t} SET provider = CASE provider {case} END WHERE provider IN ({listed});"
        for t in tables
    )


# Numbered, applied in order at start-up; never edit one that has shipped, add the next.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        project VARCHAR NOT NULL, id VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL,
        prompt_id VARCHAR, prompt_version VARCHAR, model VARCHAR NOT NULL, provider VARCHAR,
        environment VARCHAR, feature VARCHAR, user_id VARCHAR, session_id VARCHAR,
        service VARCHAR, tags VARCHAR[], metadata JSON, status VARCHAR NOT NULL, error_type VARCHAR,
        error_message VARCHAR, http_status SMALLINT, latency_ms DOUBLE NOT NULL, ttft_ms DOUBLE,
        queue_ms DOUBLE, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, cost_usd DOUBLE,
        cache_hit BOOLEAN NOT NULL, retries INTEGER NOT NULL, received_at TIMESTAMP NOT NULL
    );
    CREATE TABLE scores (
        project VARCHAR NOT NULL, id VARCHAR NOT NULL, event_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL, value DOUBLE NOT NULL, comment VARCHAR, source VARCHAR,
        timestamp TIMESTAMP, received_at TIMESTAMP NOT NULL
    );
    """,
    # 2: rollups (hourly, daily; mergeable sketches), the raw-retention horizon; backfilled.
    rollup_sql.ddl(ROLLUP_AGGS_V2) + "\n" + rollup_sql.backfill_sql(ROLLUP_AGGS_V2),
    # 3: where retention deleted rollups, per level and project (the plan must not read there).
    "CREATE TABLE rollup_horizon (level VARCHAR NOT NULL, project VARCHAR NOT NULL, "
    "cutoff TIMESTAMP NOT NULL);",
    # 4: cache-write tokens (priced apart from input) and the model the provider says it served.
    "ALTER TABLE events ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE events ADD COLUMN response_model VARCHAR;\n" + _ADDED_ROLLUP_SUMS,
    # 5: one canonical name per provider for the calls stored before (model/providers.py).
    _canonical_providers_sql(),
    # 6: cost provenance (which price priced a call); calls stored before have none.
    "ALTER TABLE events ADD COLUMN price_ref VARCHAR;",
    # 7: sketches a little behind the calls (sketch_lag.py): each writer transaction's number on
    # its calls, and up to which number the sketch tables hold them (all of the calls before).
    "ALTER TABLE events ADD COLUMN commit_seq BIGINT NOT NULL DEFAULT 0;\n"
    "CREATE TABLE sketched_through (seq BIGINT NOT NULL);\n"
    "INSERT INTO sketched_through VALUES (0);",
)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the file to the newest schema, one transaction per migration."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for number, sql in enumerate(MIGRATIONS, start=1):
        if number > current:
            con.execute("BEGIN TRANSACTION")
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [number])
            con.execute("COMMIT")
