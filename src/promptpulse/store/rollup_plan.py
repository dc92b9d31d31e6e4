"""When a metric query can be answered from rollups, and from which pieces. Pure.

A query is eligible when every filter and grouping is a rollup dimension, every base aggregate it
needs is stored, and its interval is an hour or coarser. The range is then cut into pieces: whole
days from the daily rollup, whole hours at either end from the hourly rollup, and the sub-hour
edges from raw calls (summarised on the fly into the same mergeable shape). Time buckets of the
answer are unions of pieces, so the figures per bucket are the same as raw ones (percentiles and
distinct counts within the sketches' bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from promptpulse.model import CONDITIONS, Agg, Dimension, Kind, Metric, Op, Scope, base_aggregates

ROLLUP_DIMENSIONS: tuple[str, ...] = (
    "project", "prompt_id", "prompt_version", "model", "provider", "environment", "status",
    "error_type",
)  # fmt: skip
QUANTILE_COLUMNS: tuple[str, ...] = ("latency_ms", "ttft_ms")
DISTINCT_COLUMNS: tuple[str, ...] = ("user_id",)
SUMMED: tuple[str, ...] = (
    "latency_ms", "ttft_ms", "queue_ms", "input_tokens", "output_tokens", "cached_tokens",
    "reasoning_tokens", "cost_usd", "retries",
)  # fmt: skip
# The base aggregates a rollup row stores. Changing this needs a new store migration, and the
# migration that created the tables keeps the list it had (new aggregates are appended columns).
ROLLUP_AGGS_V2: tuple[Agg, ...] = (
    Agg(Op.COUNT),
    *(Agg(Op.COUNT_IF, c) for c in CONDITIONS),
    *(Agg(Op.COUNT_VALUES, c) for c in ("latency_ms", "ttft_ms", "queue_ms", "cost_usd")),
    *(Agg(Op.SUM, c) for c in SUMMED),
    *(Agg(Op.MAX, c) for c in ("latency_ms", "ttft_ms")),
)
# Migration 4 appended these (ALTER TABLE ... ADD COLUMN puts them last: keep them last).
ROLLUP_AGGS_V4: tuple[Agg, ...] = (Agg(Op.SUM, "cache_write_tokens"),)
ROLLUP_AGGS: tuple[Agg, ...] = ROLLUP_AGGS_V2 + ROLLUP_AGGS_V4
LEVELS: tuple[str, ...] = ("hour", "day")


def agg_column(agg: Agg) -> str:
    return f"a_{agg.op.value}_{agg.arg}" if agg.arg else f"a_{agg.op.value}"


@dataclass(frozen=True)
class Piece:
    source: str  # "day" | "hour" | "raw"
    start: datetime
    end: datetime


def eligible(
    scope: Scope, metrics: Sequence[Metric], group_by: Sequence[Dimension], interval: str | None
) -> bool:
    if interval == "minute":
        return False
    if any(f.dimension not in ROLLUP_DIMENSIONS for f in scope.filters):
        return False
    if any(d.name not in ROLLUP_DIMENSIONS for d in group_by):
        return False
    for m in metrics:
        if m.kind is Kind.QUANTILE and m.column not in QUANTILE_COLUMNS:
            return False
        if m.kind not in (Kind.AGGREGATE, Kind.QUANTILE):
            return False
    for a in base_aggregates(list(metrics)):
        if a.op is Op.DISTINCT:
            if a.arg not in DISTINCT_COLUMNS:
                return False
        elif a not in ROLLUP_AGGS:
            return False
    return True


def is_approximate(metrics: Sequence[Metric]) -> bool:
    """Percentiles and distinct counts come from sketches; everything else is exact."""
    return any(
        m.kind is Kind.QUANTILE or any(a.op is Op.DISTINCT for a in m.parts) for m in metrics
    )


def floor_to(t: datetime, level: str) -> datetime:
    """The start of the UTC hour or day holding `t`."""
    t = t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if level == "day" else t


def ceil_to(t: datetime, level: str) -> datetime:
    """`t` when it starts an hour or day (UTC), else the start of the next one."""
    f = floor_to(t, level)
    if f == t.astimezone(UTC):
        return f
    return f + (timedelta(days=1) if level == "day" else timedelta(hours=1))


def pieces(
    start: datetime, end: datetime, interval: str | None, open_end: bool = False
) -> list[Piece]:
    """[start, end) cut into raw edges, whole hours and whole days (days only when the interval
    is a day or coarser, or there is none). `open_end`: no call is stamped at or after `end`,
    so the hour it ends in is whole (a dashboard's range ends now: that hour holds the newest
    calls, all of them under heavy ingest)."""
    h0 = ceil_to(start, "hour")
    h1 = ceil_to(end, "hour") if open_end else floor_to(end, "hour")
    if h0 >= h1:
        return [Piece("raw", start, end)]
    out = [Piece("raw", start, h0)] if start < h0 else []
    d0, d1 = ceil_to(h0, "day"), floor_to(h1, "day")
    if interval != "hour" and d0 < d1:
        if h0 < d0:
            out.append(Piece("hour", h0, d0))
        out.append(Piece("day", d0, d1))
        if d1 < h1:
            out.append(Piece("hour", d1, h1))
    else:
        out.append(Piece("hour", h0, h1))
    if h1 < end:
        out.append(Piece("raw", h1, end))
    return out
