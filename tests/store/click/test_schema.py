"""The ClickHouse schema: generated from the record schemas, migrated in order, refused when a
newer PromptPulse migrated it; the cluster layout's DDL text; the key hash both sides agree on."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from promptpulse.errors import SchemaTooNew
from promptpulse.model import CALL_FIELDS, SCORE_SCHEMA
from promptpulse.store.click import ClickStore, migrations, rollup_sql, schema
from promptpulse.store.click.schema import Layout
from promptpulse.store.click.writer import KEY_HASH_SQL, key_hash


def columns(store: ClickStore, table: str) -> dict[str, str]:
    rows = store.execute(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {t:String} ORDER BY position",
        {"t": table},
    )
    return dict(rows)  # type: ignore[arg-type]


def test_every_record_field_is_a_column_of_its_type(click_store: Callable[..., ClickStore]) -> None:
    """A field added to CALL_SCHEMA without its one migration line fails here."""
    store = click_store()
    events = columns(store, "events")
    assert list(events) == [*CALL_FIELDS, "_version"]
    assert list(columns(store, "scores")) == [*SCORE_SCHEMA.names, "_version"]
    assert events["project"] == "LowCardinality(String)"
    assert events["environment"] == "LowCardinality(Nullable(String))"
    assert events["user_id"] == "Nullable(String)"
    assert events["tags"] == "Array(String)"
    assert events["timestamp"] == "DateTime64(6, 'UTC')"
    assert events["http_status"] == "Nullable(Int16)"
    assert events["cache_hit"] == "Bool"
    engine = store.execute(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name = 'events'"
    )[0][0]
    assert "ReplacingMergeTree(_version)" in engine
    assert "ORDER BY (project, toDate(timestamp), id)" in engine


def test_migrations_are_numbered_and_applied_once(click_store: Callable[..., ClickStore]) -> None:
    store = click_store(database="migrated")
    versions = [r[0] for r in store.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(migrations.MIGRATIONS) + 1))
    store.close()
    again = click_store(database="migrated")  # idempotent: nothing applied twice
    assert again.execute("SELECT count() FROM schema_version")[0][0] == len(versions)
    tables = {r[0] for r in again.execute("SHOW TABLES")}
    assert {"events", "scores", "raw_horizon", "rollup_horizon", "rollup_hour_mv"} <= tables


def test_a_new_migration_line_adds_a_field_with_its_schema_type(
    click_store: Callable[..., ClickStore],
) -> None:
    """How a new record field arrives: one `add_columns` line (typed from the schema), applied
    once, on top of the shipped migrations; replaying it changes nothing (IF NOT EXISTS)."""
    store = click_store()
    store.execute("ALTER TABLE events DROP COLUMN error_message")  # as if a release lacked it
    extra = (
        *migrations.MIGRATIONS,
        lambda layout: schema.add_columns(layout, "events", "error_message"),
    )
    for _ in range(2):
        migrations.migrate(store._client.command, store._scalar, store.layout, extra)
    assert columns(store, "events")["error_message"] == "Nullable(String)"
    assert store.execute("SELECT max(version) FROM schema_version")[0][0] == len(extra)


def test_a_schema_newer_than_this_code_is_refused(click_store: Callable[..., ClickStore]) -> None:
    store = click_store(database="newer")
    store.execute(f"INSERT INTO schema_version (version) VALUES ({len(migrations.MIGRATIONS) + 1})")
    store.close()
    with pytest.raises(SchemaTooNew, match="newer than this PromptPulse"):
        click_store(database="newer")


def test_key_hash_is_the_same_in_python_and_in_clickhouse(
    click_store: Callable[..., ClickStore],
) -> None:
    """The writer hashes incoming keys in Python and stored ones in SQL: one function."""
    store = click_store()
    rng = np.random.default_rng(5)
    keys = [(f"p{i % 3}é", f"id-{rng.integers(1 << 62)}-ü") for i in range(200)] + [("", "")]
    got = store.execute(
        f"SELECT {KEY_HASH_SQL.replace('project', 'k.1').replace('id', 'k.2')} "
        "FROM (SELECT arrayJoin({k:Array(Tuple(String, String))}) AS k)",
        {"k": keys},
    )
    assert [int(r[0]) for r in got] == [key_hash(p, i) for p, i in keys]


def test_cluster_ddl_text() -> None:
    """What PROMPTPULSE_CLICKHOUSE_CLUSTER generates (a cluster cannot run here): Replicated
    engines on `<t>_local`, a Distributed `<t>` sharded by (project, id) for calls and scores,
    ON CLUSTER on every statement, views reading and writing the local tables, and small global
    tables replicated to every node (no {shard} in their path)."""
    layout = Layout("prod")
    ddl = [
        *migrations.version_ddl(layout),
        *(s for m in migrations.MIGRATIONS for s in m(layout)),
    ]
    assert all(" ON CLUSTER `prod` " in s for s in ddl)
    text = "\n".join(ddl)
    assert (
        "CREATE TABLE IF NOT EXISTS events_local ON CLUSTER `prod` (" in text
        and "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/"
        "events_local', '{replica}', _version) PARTITION BY toYYYYMM(timestamp) "
        "ORDER BY (project, toDate(timestamp), id)"
        in text
    )
    for table in ("events", "scores"):
        assert (
            f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `prod` AS {table}_local ENGINE = "
            f"Distributed(`prod`, currentDatabase(), {table}_local, cityHash64(project, id))"
        ) in text
    assert (
        "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/rollup_hour_local'"
        in text
    )
    assert (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hour_mv ON CLUSTER `prod` "
        "TO rollup_hour_local AS SELECT" in text
    )
    views = [s for s in ddl if "MATERIALIZED VIEW" in s]
    assert len(views) == 2 * len(rollup_sql.tables("hour")) + 1  # and rollup_touched_mv
    assert all("FROM events_local " in v for v in views)
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{database}/schema_version', '{replica}')"
        in text
    )
    assert schema.add_columns(layout, "events", "cost_usd") == [
        f"ALTER TABLE {t} ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS `cost_usd` Nullable(Float64) "
        "AFTER `cache_write_tokens`"
        for t in ("events_local", "events")
    ]
    single = [s for m in migrations.MIGRATIONS for s in m(Layout())]
    assert not any("CLUSTER" in s or "Replicated" in s or "_local" in s for s in single)
