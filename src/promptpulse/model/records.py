"""The call and score records as Arrow schemas: what ingest produces, what the writer hands to a
store, and what every backend stores. One definition; a backend maps it to its own column types.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

CALL_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("prompt_id", pa.string()),
        ("prompt_version", pa.string()),
        ("model", pa.string()),
        ("response_model", pa.string()),
        ("provider", pa.string()),
        ("environment", pa.string()),
        ("feature", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("service", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("metadata", pa.string()),
        ("status", pa.string()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("http_status", pa.int16()),
        ("latency_ms", pa.float64()),
        ("ttft_ms", pa.float64()),
        ("queue_ms", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cache_write_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("cache_hit", pa.bool_()),
        ("retries", pa.int32()),
        ("received_at", pa.timestamp("us")),
        # cost provenance: client | book:<entry id> | genai-prices:<provider>/<model>@<version>;
        # None when unpriced (and for calls stored before provenance was recorded)
        ("price_ref", pa.string()),
    ]
)

SCORE_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("id", pa.string()),
        ("event_id", pa.string()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("comment", pa.string()),
        ("source", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("received_at", pa.timestamp("us")),
    ]
)

CALL_FIELDS: tuple[str, ...] = tuple(CALL_SCHEMA.names)
# Numeric fields a statistic may read per call (values/columns of the store).
NUMERIC_CALL_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in CALL_SCHEMA
    if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type)
)


def check_call_fields(names: Iterable[str], at_least_one: bool = False) -> None:
    """ValueError naming the unknown fields, so no backend ever inlines a name it does not know
    (and, with `at_least_one`, when there are none)."""
    names = list(names)
    unknown = sorted(set(names) - set(CALL_FIELDS))
    if unknown or (at_least_one and not names):
        raise ValueError(f"not a call field: {unknown}")
