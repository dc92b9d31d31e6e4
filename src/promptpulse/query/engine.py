"""Overview, time series and breakdown: catalog metrics over a scope, shaped for the API.

Everything here goes through the store's `aggregate`; no SQL is written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.model import (
    CATALOG,
    DERIVED_CALL_FIELDS,
    AggRow,
    Dimension,
    Kind,
    Metric,
    PeakRow,
    Scope,
    Sort,
)
from promptpulse.query.custom import add_custom, custom_value, leaves, totals
from promptpulse.store import Store

# Streaming speed is left out: the overview does not show it, and each of its figures is one more
# scan of raw calls (charts and alerts ask for it by name).
OVERVIEW_METRICS: tuple[Metric, ...] = tuple(
    m
    for m in CATALOG.values()
    if m.kind is not Kind.PEAK_MINUTE and m.column not in DERIVED_CALL_FIELDS
)


def _sql_metrics(metrics: Sequence[Metric]) -> list[Metric]:
    """What the store computes: everything but derived metrics, plus requests they need, plus
    the catalog metrics custom ones read (their terms come from `add_custom`)."""
    metrics = [*metrics, *leaves(metrics)]
    wanted = [m for m in metrics if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
    needs_requests = any(m.kind in (Kind.PER_MINUTE, Kind.CUSTOM) for m in metrics)
    if needs_requests and CATALOG["requests"] not in wanted:
        wanted.append(CATALOG["requests"])
    return wanted


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def overview(
    store: Store,
    scope: Scope,
    compare_previous: bool = False,
    approximate_ok: bool = True,
    custom: Sequence[Metric] = (),
) -> dict[str, Any]:
    """`approximate_ok=False` (the API's `exact=true`) never answers from rollup sketches.
    `custom`: the project's custom metrics, answered under `custom` by name."""
    if not compare_previous:
        return _overview(store, scope, approximate_ok, custom)
    # The two periods are independent: compute them side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        current = pool.submit(_overview, store, scope, approximate_ok, custom)
        previous = pool.submit(_overview, store, scope.previous(), approximate_ok, custom)
        result = current.result()
        result["previous"] = previous.result()
    return result


def _overview(
    store: Store, scope: Scope, approximate_ok: bool = True, custom: Sequence[Metric] = ()
) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        peak = pool.submit(store.peak_per_minute, scope)
        # Errors by type, within the caller's own status filter (status=success has none).
        wanted = scope.filter_values("status")
        errors_scope = scope.with_filter("status", ["error"])
        by_type = (
            pool.submit(
                store.aggregate, errors_scope, [CATALOG["requests"]], [Dimension("error_type")]
            )
            if wanted is None or "error" in wanted
            else None
        )
        scores = pool.submit(store.score_summary, scope)
        flat = flat_overview(store, scope, peak.result(), approximate_ok)
        errors_by_type = (
            {r.key: r["requests"] for r in by_type.result()} if by_type is not None else {}
        )
        shaped = shape_overview(scope, flat, errors_by_type, scores.result())
        if flat.get("approximate"):
            shaped["approximate"] = True
        if custom:
            shaped["custom"] = totals(store, scope, custom)
        return shaped


def flat_overview(
    store: Store, scope: Scope, peak: list[PeakRow] | None = None, approximate_ok: bool = True
) -> dict[str, Any]:
    """Every catalog metric over the scope, by catalog name (and `approximate` when a value
    came from a rollup sketch)."""
    metrics = _sql_metrics(OVERVIEW_METRICS)
    found = store.aggregate(scope, metrics, allow_approximate=approximate_ok)[0]
    row = dict(found.values)
    if found.approximate:
        row["approximate"] = True
    row["rpm"] = row["requests"] / scope.minutes
    peak = store.peak_per_minute(scope) if peak is None else peak
    row["rpm_peak"] = peak[0].peak if peak else 0
    return row


def shape_overview(
    scope: Scope,
    m: dict[str, Any],
    errors_by_type: dict[str, int],
    scores: dict[str, dict[str, float | int]],
) -> dict[str, Any]:
    """The nested overview of DESIGN.md from the flat metrics."""
    return {
        "from": _iso(scope.start),
        "to": _iso(scope.end),
        "requests": m["requests"],
        "successes": m["successes"] or 0,
        "errors": m["errors"] or 0,
        "success_rate": m["success_rate"],
        "error_rate": m["error_rate"],
        "errors_by_type": dict(sorted(errors_by_type.items(), key=lambda kv: -kv[1])),
        "latency_ms": {
            "p50": m["latency_p50_ms"],
            "p75": m["latency_p75_ms"],
            "p90": m["latency_p90_ms"],
            "p95": m["latency_p95_ms"],
            "p99": m["latency_p99_ms"],
            "max": m["latency_max_ms"],
            "mean": m["latency_mean_ms"],
        },
        "ttft_ms": {"p50": m["ttft_p50_ms"], "p95": m["ttft_p95_ms"], "p99": m["ttft_p99_ms"]},
        "tokens": {
            "input": m["input_tokens"],
            "output": m["output_tokens"],
            "cached": m["cached_tokens"],
            "reasoning": m["reasoning_tokens"],
            "cache_write": m["cache_write_tokens"],
            "total": m["tokens"],
            "per_request": m["tokens_per_request"],
        },
        "cost_usd": {
            "total": m["cost_usd"],
            "per_request": m["cost_per_request_usd"],
            "unpriced_requests": m["unpriced_requests"] or 0,
        },
        "cache_hit_rate": m["cache_hit_rate"],
        "rpm": {"mean": m["rpm"], "peak": m["rpm_peak"]},
        "active_users": m["active_users"],
        "scores": scores,
    }


def bucket_starts(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """UTC-aligned bucket starts covering [start, end): weeks start on Monday (ISO)."""
    first = _truncate(start, interval)
    out = []
    t = first
    while t < end:
        out.append(t)
        t = _next_bucket(t, interval)
    return out


def _truncate(t: datetime, interval: str) -> datetime:
    t = t.astimezone(UTC)
    if interval == "minute":
        return t.replace(second=0, microsecond=0)
    if interval == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_bucket(t: datetime, interval: str) -> datetime:
    if interval == "month":
        return t.replace(year=t.year + (t.month == 12), month=t.month % 12 + 1)
    step = {
        "minute": timedelta(minutes=1),
        "hour": timedelta(hours=1),
        "day": timedelta(days=1),
        "week": timedelta(weeks=1),
    }[interval]
    return t + step


def timeseries(
    store: Store,
    scope: Scope,
    interval: str,
    metrics: Sequence[Metric],
    group_by: Dimension | None = None,
    approximate_ok: bool = True,
) -> dict[str, Any]:
    groups = [group_by] if group_by else []
    rows = store.aggregate(
        scope, _sql_metrics(metrics), groups, interval, allow_approximate=approximate_ok
    )
    rows = add_custom(store, scope, rows, metrics, groups, interval)
    approximate = any(r.approximate for r in rows)
    peaks: dict[tuple[Any, ...], Any] = {}
    if any(m.kind is Kind.PEAK_MINUTE for m in metrics):
        for p in store.peak_per_minute(scope, groups, interval):
            peaks[(p.t, p.key)] = p.peak
    starts = bucket_starts(scope.start, scope.end, interval)
    by_group: dict[Any, dict[datetime, AggRow]] = {}
    for r in rows:
        by_group.setdefault(r.key, {})[r.t] = r  # type: ignore[index]  # a series has t
    if not by_group and group_by is None:
        by_group[None] = {}
    series = []
    for group, points_by_t in sorted(by_group.items(), key=lambda kv: (kv[0] is None, str(kv[0]))):
        points = []
        for t in starts:
            found = points_by_t.get(t)
            point: dict[str, Any] = {"t": _iso(t)}
            for m in metrics:
                point[m.name] = _point_value(m, found, t, scope, interval, peaks.get((t, group)))
            points.append(point)
        series.append({"group": group, "points": points})
    out: dict[str, Any] = {
        "interval": interval,
        "group_by": group_by.name if group_by else None,
        "series": series,
    }
    if approximate:
        out["approximate"] = True  # percentiles (and distinct users) from rollup sketches
    return out


_ZERO_WHEN_EMPTY = {
    "requests",
    "successes",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "tokens",
    "cost_usd",
    "unpriced_requests",
    "active_users",
}


def _point_value(
    m: Metric, r: AggRow | None, t: datetime, scope: Scope, interval: str, peak: Any
) -> Any:
    if m.kind is Kind.PER_MINUTE:
        covered = _minutes(max(t, scope.start), min(_next_bucket(t, interval), scope.end))
        return (r["requests"] if r else 0) / covered
    if m.kind is Kind.PEAK_MINUTE:
        return int(peak or 0)
    if r is None:
        if m.kind is Kind.CUSTOM:
            return custom_value(m, {})
        return 0 if m.name in _ZERO_WHEN_EMPTY else None
    return r[m.name]


def breakdown(
    store: Store,
    scope: Scope,
    by: Dimension,
    metrics: Sequence[Metric],
    sort: Sort,
    limit: int,
    approximate_ok: bool = True,
) -> dict[str, Any]:
    wanted = list(metrics)
    if sort.metric not in {m.name for m in wanted}:
        wanted.append(CATALOG[sort.metric])
    rows = store.aggregate(scope, _sql_metrics(wanted), [by], allow_approximate=approximate_ok)
    rows = add_custom(store, scope, rows, wanted, [by], None)
    approximate = any(r.approximate for r in rows)
    peaks = {}
    if any(m.kind is Kind.PEAK_MINUTE for m in wanted):
        peaks = {r.key: r.peak for r in store.peak_per_minute(scope, [by])}
    out = []
    for r in rows:
        row: dict[str, Any] = {by.name: r.key}
        for m in wanted:
            if m.kind is Kind.PER_MINUTE:
                row[m.name] = r["requests"] / scope.minutes
            elif m.kind is Kind.PEAK_MINUTE:
                row[m.name] = int(peaks.get(r.key) or 0)
            else:
                row[m.name] = r[m.name]
        out.append(row)
    # Nulls sort last whichever the order; ties break on the dimension value for stable pages.
    out.sort(key=lambda row: str(row[by.name]))
    present = [row for row in out if row[sort.metric] is not None]
    missing = [row for row in out if row[sort.metric] is None]
    present.sort(key=lambda row: row[sort.metric], reverse=sort.descending)
    result: dict[str, Any] = {
        "by": by.name,
        "sort": sort.metric,
        "order": "desc" if sort.descending else "asc",
        "rows": (present + missing)[:limit],
    }
    if approximate:
        result["approximate"] = True
    return result


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
