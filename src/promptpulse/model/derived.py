"""Per-call figures derived from the call record's own fields, not stored: streaming speed.

A store takes one of these names wherever it takes a numeric column (percentiles, `values`,
`columns`, cohort samples) and computes it per call in its own SQL, so old calls have it too
and nothing is backfilled. NULL (no value) where the definition does not apply; the exact
definitions are in docs/metrics.md ("Streaming speed"):

- `generation_ms` = latency_ms - ttft_ms, for calls with a TTFT not above their latency;
- `tpot_ms` (time per output token) = generation_ms / (output_tokens - 1), for those calls with
  at least 2 output tokens (the first token is the TTFT's);
- `output_tps` (end-to-end output tokens per second, DESIGN.md) = output_tokens /
  (latency_ms / 1000), for calls with output tokens and a latency above 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from promptpulse.model.records import CALL_FIELDS

DERIVED_CALL_FIELDS: tuple[str, ...] = ("generation_ms", "tpot_ms", "output_tps")
VALUE_FIELDS: tuple[str, ...] = (*CALL_FIELDS, *DERIVED_CALL_FIELDS)
# field -> unit: what a histogram may be drawn of (a stored field or a derived per-call figure);
# the histogram API and the dashboards' histogram widget both read it.
HISTOGRAM_FIELDS: dict[str, str] = {
    "latency_ms": "ms",
    "ttft_ms": "ms",
    "tpot_ms": "ms",
    "generation_ms": "ms",
    "output_tps": "tokens/s",
}


def check_value_fields(names: Iterable[str], at_least_one: bool = False) -> None:
    """ValueError naming the names that are neither a call field nor a derived figure (and,
    with `at_least_one`, when there are none): a backend inlines only names it knows."""
    names = list(names)
    unknown = sorted(set(names) - set(VALUE_FIELDS))
    if unknown or (at_least_one and not names):
        raise ValueError(f"not a call field: {unknown}")
