"""The metrics API's requests, typed: each one's parameters declared once (`*_PARAMS`, which the
web layer also documents) and a `parse_*` that reads exactly those, raising `Invalid` with every
bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from promptpulse.model import CATALOG, COLUMN_DIMENSIONS, INTERVALS, Dimension, Metric, Scope, Sort
from promptpulse.query.parse import (
    SCOPE_PARAMS,
    Errors,
    MultiDict,
    Param,
    ParamKind,
    parse_interval,
    read,
    read_scope,
)

DEFAULT_SERIES = ("requests", "errors", "latency_p95_ms", "cost_usd")
DEFAULT_BREAKDOWN = (
    "requests",
    "success_rate",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "tokens_per_request",
    "cost_usd",
    "cost_per_request_usd",
)
DEFAULT_CALLS = 50
MAX_CALLS = 1000
DIMENSIONS = ", ".join(COLUMN_DIMENSIONS) + ", or metadata.<key>"

EXACT = Param(
    "exact",
    ParamKind.CHOICE,
    "`true`: never answer from rollups (long ranges otherwise may, saying "
    '`"approximate": true`; percentiles within 1 %)',
    default="false",
    choices=("true", "false"),
)
COMPARE = Param(
    "compare",
    ParamKind.CHOICE,
    "`previous`: add the same figures for the period of equal length just before",
    choices=("previous",),
)
SERIES_METRICS = Param(
    "metrics",
    ParamKind.METRICS,
    f"Comma list of catalog or custom metrics (default: {','.join(DEFAULT_SERIES)})",
    default=DEFAULT_SERIES,
)
INTERVAL = Param(
    "interval",
    ParamKind.CHOICE,
    "UTC-aligned bucket; weeks are ISO (default: minute up to 2 h, hour up to 7 days, else day)",
    choices=tuple(INTERVALS),
)
GROUP_BY = Param("group_by", ParamKind.DIMENSION, f"One series per value of: {DIMENSIONS}")
BY = Param("by", ParamKind.DIMENSION, f"One row per value of: {DIMENSIONS}", required=True)
BREAKDOWN_METRICS = Param(
    "metrics",
    ParamKind.METRICS,
    f"Comma list of catalog or custom metrics (default: {','.join(DEFAULT_BREAKDOWN)})",
    default=DEFAULT_BREAKDOWN,
)
SORT = Param(
    "sort", ParamKind.METRICS, "A catalog or custom metric to sort by", default=("requests",)
)
ORDER = Param("order", ParamKind.CHOICE, "Sort order", default="desc", choices=("desc", "asc"))
LIMIT = Param("limit", ParamKind.INT, "Rows at most", default=20, lo=1, hi=1000)
CALLS_LIMIT = Param(
    "limit", ParamKind.INT, "Calls at most", default=DEFAULT_CALLS, lo=1, hi=MAX_CALLS
)

OVERVIEW_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, COMPARE, EXACT)
SERIES_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, SERIES_METRICS, INTERVAL, GROUP_BY, EXACT)
BREAKDOWN_PARAMS: tuple[Param, ...] = (
    *SCOPE_PARAMS,
    BY,
    BREAKDOWN_METRICS,
    SORT,
    ORDER,
    LIMIT,
    EXACT,
)
CALLS_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, CALLS_LIMIT)


@dataclass(frozen=True)
class OverviewRequest:
    scope: Scope
    compare_previous: bool
    exact: bool  # never from rollups


@dataclass(frozen=True)
class SeriesRequest:
    scope: Scope
    interval: str
    metrics: list[Metric]
    group_by: Dimension | None
    exact: bool


@dataclass(frozen=True)
class BreakdownRequest:
    scope: Scope
    by: Dimension
    metrics: list[Metric]
    sort: Sort
    limit: int
    exact: bool


@dataclass(frozen=True)
class CallsRequest:
    scope: Scope
    limit: int


def parse_overview(params: MultiDict, now: datetime) -> OverviewRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(OVERVIEW_PARAMS, params, errors)
    errors.raise_if_any()
    return OverviewRequest(scope, v["compare"] == "previous", v["exact"] == "true")


def parse_series(
    params: MultiDict, now: datetime, custom: Mapping[str, Metric] | None = None
) -> SeriesRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(SERIES_PARAMS, params, errors, custom)
    interval = parse_interval(v["interval"], scope, errors)  # the default follows the range
    errors.raise_if_any()
    return SeriesRequest(scope, interval, v["metrics"], v["group_by"], v["exact"] == "true")


def parse_breakdown(
    params: MultiDict, now: datetime, custom: Mapping[str, Metric] | None = None
) -> BreakdownRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(BREAKDOWN_PARAMS, params, errors, custom)
    errors.raise_if_any()
    sort = Sort(v["sort"][0].name, v["order"] == "desc")
    metrics = v["metrics"]
    if v["sort"][0] not in metrics and v["sort"][0].name not in CATALOG:
        metrics = [*metrics, v["sort"][0]]  # a custom sort metric is computed like the others
    return BreakdownRequest(scope, v["by"], metrics, sort, v["limit"], v["exact"] == "true")


def parse_calls(params: MultiDict, now: datetime) -> CallsRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(CALLS_PARAMS, params, errors)
    errors.raise_if_any()
    return CallsRequest(scope, v["limit"])
