"""The ClickHouse tables of calls and scores, generated from the record schemas (one definition:
`model.records`), and the layout that makes them single-node or replicated and sharded.

Calls are a ReplacingMergeTree keyed by (project, day, id), so two copies of one call that reach
the table in two inserts collapse into the first stored (its `_version` is the highest: it
falls as insert time grows), and every read says FINAL so they never count twice before a merge
does. Partitions are months; the sort key serves time ranges within projects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from promptpulse.model import CALL_SCHEMA, SCORE_SCHEMA

# Fields a record always has (the rest are Nullable); a sort key is never Nullable.
REQUIRED: frozenset[str] = frozenset(
    {
        "project", "id", "timestamp", "model", "status", "latency_ms", "input_tokens",
        "output_tokens", "cached_tokens", "reasoning_tokens", "cache_hit", "retries",
        "received_at", "event_id", "name", "value",
    }
)  # fmt: skip
# Strings with few distinct values: dictionary-encoded.
LOW_CARDINALITY: frozenset[str] = frozenset(
    {
        "project", "prompt_id", "prompt_version", "model", "provider", "environment", "feature",
        "service", "status", "error_type", "name", "source", "price_ref",
    }
)  # fmt: skip
ARROW_TYPES: dict[pa.DataType, str] = {
    pa.string(): "String",
    pa.timestamp("us"): "DateTime64(6, 'UTC')",
    pa.list_(pa.string()): "Array(String)",  # an Array is never Nullable: no tags is []
    pa.int16(): "Int16",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.float64(): "Float64",
    pa.bool_(): "Bool",
}
SCHEMAS: dict[str, pa.Schema] = {"events": CALL_SCHEMA, "scores": SCORE_SCHEMA}
# Higher for an earlier insert: ReplacingMergeTree keeps the highest, so the first copy wins.
VERSION_COLUMN = "_version UInt64 DEFAULT 18446744073709551615 - toUnixTimestamp64Nano(now64(9))"


def column_type(table: str, name: str) -> str:
    """The ClickHouse type of one record field, from its Arrow type."""
    field = SCHEMAS[table].field(name)
    base = ARROW_TYPES.get(field.type)
    if base is None:
        raise ValueError(f"no ClickHouse type for {table}.{name} ({field.type})")
    typed = base if base.startswith("Array") or name in REQUIRED else f"Nullable({base})"
    return f"LowCardinality({typed})" if name in LOW_CARDINALITY else typed


def columns_sql(table: str, names: Sequence[str]) -> str:
    return ", ".join(f"`{n}` {column_type(table, n)}" for n in names)


@dataclass(frozen=True)
class Layout:
    """Single node (cluster None), or `ON CLUSTER` DDL with Replicated engines on `<t>_local`
    tables and a Distributed table `<t>` in front of each, sharded by a hash of (project, id)
    so that copies of one call meet on one shard (where FINAL collapses them)."""

    cluster: str | None = None

    @property
    def on(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def local(self, table: str) -> str:
        """The table that holds the rows (DELETE, OPTIMIZE and materialized views go there)."""
        return f"{table}_local" if self.cluster else table

    def engine(self, kind: str, args: str, table: str, sharded: bool = True) -> str:
        if not self.cluster:
            return f"{kind}({args})"
        # Unsharded (small, global) tables are replicated to every node: no {shard} in path.
        shard, name = ("{shard}/", self.local(table)) if sharded else ("", table)
        path = f"'/clickhouse/tables/{shard}{{database}}/{name}', '{{replica}}'"
        return f"Replicated{kind}({path}{', ' + args if args else ''})"

    def create(
        self, table: str, columns: str, kind: str, args: str, tail: str, shard_key: str
    ) -> list[str]:
        """CREATE statements of a table (and its Distributed front in cluster mode)."""
        out = [
            f"CREATE TABLE IF NOT EXISTS {self.local(table)}{self.on} ({columns}) "
            f"ENGINE = {self.engine(kind, args, table)} {tail}"
        ]
        if self.cluster:
            out.append(
                f"CREATE TABLE IF NOT EXISTS {table}{self.on} AS {self.local(table)} "
                f"ENGINE = Distributed(`{self.cluster}`, currentDatabase(), "
                f"{self.local(table)}, {shard_key})"
            )
        return out

    def create_global(self, table: str, columns: str, order_by: str) -> list[str]:
        """A small table every node holds whole (schema version, horizons)."""
        engine = self.engine("MergeTree", "", table, sharded=False)
        return [
            f"CREATE TABLE IF NOT EXISTS {table}{self.on} ({columns}) "
            f"ENGINE = {engine} ORDER BY {order_by}"
        ]


KEY_SHARD = "cityHash64(project, id)"


def events_ddl(layout: Layout, names: Sequence[str]) -> list[str]:
    return layout.create(
        "events",
        f"{columns_sql('events', names)}, {VERSION_COLUMN}",
        "ReplacingMergeTree",
        "_version",
        "PARTITION BY toYYYYMM(timestamp) ORDER BY (project, toDate(timestamp), id)",
        KEY_SHARD,
    )


def scores_ddl(layout: Layout, names: Sequence[str]) -> list[str]:
    # Keyed by (project, id) alone: a score's copies always collapse, whenever they arrive.
    return layout.create(
        "scores",
        f"{columns_sql('scores', names)}, {VERSION_COLUMN}",
        "ReplacingMergeTree",
        "_version",
        "ORDER BY (project, id)",
        KEY_SHARD,
    )


def add_columns(layout: Layout, table: str, *names: str) -> list[str]:
    """A migration's one line for new record fields: their types come from the schema."""
    targets = [layout.local(table), table] if layout.cluster else [table]
    order = SCHEMAS[table].names
    # Each after the field before it in the record, so the table's columns keep the record's
    # order (ClickHouse appends otherwise: after `_version`).
    return [
        f"ALTER TABLE {t}{layout.on} "
        + ", ".join(
            f"ADD COLUMN IF NOT EXISTS `{n}` {column_type(table, n)} "
            f"AFTER `{order[order.index(n) - 1]}`"
            for n in names
        )
        for t in targets
    ]


def horizons_ddl(layout: Layout) -> list[str]:
    return [
        *layout.create_global(
            "raw_horizon", "project String, cutoff DateTime64(6, 'UTC')", "(project, cutoff)"
        ),
        *layout.create_global(
            "rollup_horizon",
            "level String, project String, cutoff DateTime64(6, 'UTC')",
            "(level, project, cutoff)",
        ),
    ]
