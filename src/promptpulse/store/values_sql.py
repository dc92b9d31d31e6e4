"""SQL both engines read alike: the per-call figures derived from stored fields, and the checks
that keep a name inlined into SQL safe. Each backend imports these rather than keeping a copy."""

from __future__ import annotations

import re

from promptpulse.model import CALL_FIELDS, DERIVED_CALL_FIELDS

# Per-call figures derived from stored fields (model/derived.py), NULL where they do not apply.
# The same operations in the same order as their definition, so a value is bit-for-bit the one
# numpy computes from the fields (in ClickHouse Float64 / Int64 is a Float64 division too).
DERIVED_SQL: dict[str, str] = {
    "generation_ms": "(CASE WHEN ttft_ms <= latency_ms THEN latency_ms - ttft_ms END)",
    "tpot_ms": (
        "(CASE WHEN ttft_ms <= latency_ms AND output_tokens > 1 "
        "THEN (latency_ms - ttft_ms) / (output_tokens - 1) END)"
    ),
    "output_tps": (
        "(CASE WHEN output_tokens > 0 AND latency_ms > 0 "
        "THEN output_tokens / (latency_ms / 1000) END)"
    ),
}
assert set(DERIVED_SQL) == set(DERIVED_CALL_FIELDS)

TZ_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


def check_tz(tz: str) -> str:
    """An IANA time zone name, safe to inline (callers check it is a known zone)."""
    if not TZ_NAME.match(tz):
        raise ValueError(f"not a time zone: {tz!r}")
    return tz


def value_sql(name: str) -> str:
    """A numeric call field, or the expression of a derived per-call figure."""
    if name in DERIVED_SQL:
        return DERIVED_SQL[name]
    if name not in CALL_FIELDS:
        raise ValueError(f"not a call field: {name}")
    return name
