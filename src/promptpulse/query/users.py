"""Users: active users over time, first-seen retention, top users and one user's history.

Requests are declared once (`*_PARAMS`, also the OpenAPI parameters) and parsed by `parse_*`;
the answers are shaped here from the store's `user_activity` / `user_retention` and, for top
users and one user, from the metrics path (`engine.breakdown`, `engine.timeseries`,
`store.aggregate`): no SQL here. Definitions: docs/users.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.errors import NotFound
from promptpulse.model import CATALOG, TIME_CEILING, TIME_FLOOR, Dimension, Metric, Scope, Sort
from promptpulse.query import engine
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
from promptpulse.query.requests import INTERVAL, LIMIT, ORDER
from promptpulse.store import Store

USERS_RANGE = timedelta(days=30)  # the default range of /v1/users/*: retention needs weeks
USER = Dimension("user_id")
TOP_METRICS = ("requests", "errors", "error_rate", "tokens", "cost_usd", "latency_p95_ms")
USER_KPIS = (
    "requests",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "tokens",
    "cost_usd",
    "latency_p50_ms",
    "latency_p95_ms",
    "cost_per_request_usd",
)
USER_TOP = 10  # prompts and models in one user's page

USER_INTERVAL = Param(
    "interval",
    ParamKind.CHOICE,
    "`day`: one point per UTC day; `week`: per ISO week (Monday), its DAU/WAU/MAU as of its "
    "last day in range",
    default="day",
    choices=("day", "week"),
)
RETENTION_DAYS = Param(
    "days",
    ParamKind.LIST,
    "Day numbers k (comma list, 1-366): the share of a cohort with a call on day cohort + k",
    default=["1", "7", "30"],
)
TOP_SORT = Param(
    "sort",
    ParamKind.METRICS,
    "A catalog metric to rank users by (requests, errors, cost_usd, tokens, ...)",
    default=("requests",),
)
TOP_LIMIT_DEFAULT = 20

ACTIVITY_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, USER_INTERVAL)
RETENTION_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, RETENTION_DAYS)
TOP_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, TOP_SORT, ORDER, LIMIT)
USER_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, INTERVAL)


@dataclass(frozen=True)
class ActivityRequest:
    scope: Scope
    interval: str


@dataclass(frozen=True)
class RetentionRequest:
    scope: Scope
    days: tuple[int, ...]


@dataclass(frozen=True)
class TopRequest:
    scope: Scope
    sort: Sort
    limit: int


@dataclass(frozen=True)
class UserRequest:
    scope: Scope
    interval: str


def _scope(params: MultiDict, now: datetime, errors: Errors) -> Scope:
    """The range and filters; without `from`, the 30 days before `to`."""
    scope = read_scope(params, now, errors)
    if not any(params.getlist("from")):
        scope = Scope(scope.end - USERS_RANGE, scope.end, scope.filters)
    return scope


def parse_activity(params: MultiDict, now: datetime) -> ActivityRequest:
    errors = Errors()
    scope = _scope(params, now, errors)
    v = read(ACTIVITY_PARAMS, params, errors)
    if (scope.end - scope.start) > timedelta(days=3660):
        errors.add("from", "the range may span at most 3660 days")
    errors.raise_if_any()
    return ActivityRequest(scope, v["interval"])


def parse_retention(params: MultiDict, now: datetime) -> RetentionRequest:
    errors = Errors()
    scope = _scope(params, now, errors)
    v = read(RETENTION_PARAMS, params, errors)
    days: list[int] = []
    for raw in v["days"] or []:
        if not raw.isdigit() or not 1 <= int(raw) <= 366:
            errors.add("days", f"'{raw}' is not a whole number of days between 1 and 366")
        elif int(raw) not in days:
            days.append(int(raw))
    if not days and not errors.items:
        errors.add("days", "needs at least one day number")
    if len(days) > 12:
        errors.add("days", "at most 12 day numbers")
    errors.raise_if_any()
    return RetentionRequest(scope, tuple(sorted(days)))


def parse_top(params: MultiDict, now: datetime) -> TopRequest:
    errors = Errors()
    scope = _scope(params, now, errors)
    v = read(TOP_PARAMS, params, errors)
    errors.raise_if_any()
    return TopRequest(scope, Sort(v["sort"][0].name, v["order"] == "desc"), v["limit"])


def parse_user(user_id: str, params: MultiDict, now: datetime) -> UserRequest:
    errors = Errors()
    if user_id == "":
        errors.add("user_id", "must not be empty")
    scope = _scope(params, now, errors)
    v = read(USER_PARAMS, params, errors)
    interval = parse_interval(v["interval"], scope, errors)
    errors.raise_if_any()
    return UserRequest(scope.with_filter("user_id", [user_id]), interval)


# ------------------------------------------------------------------ answers


def activity(store: Store, scope: Scope, interval: str) -> dict[str, Any]:
    """Points per UTC day (or ISO week) of the range: active, new and returning users, DAU,
    WAU and MAU (sliding windows ending with the point's last day in range)."""
    points = [
        {
            "t": _iso(r.t),
            "active": r.active,
            "new_users": r.new_users,
            "returning_users": r.active - r.new_users,
            "dau": r.dau,
            "wau": r.wau,
            "mau": r.mau,
        }
        for r in store.user_activity(scope, interval)
    ]
    return {
        "from": _iso(scope.start),
        "to": _iso(scope.end),
        "interval": interval,
        "points": points,
    }


def retention(store: Store, scope: Scope, days: tuple[int, ...]) -> dict[str, Any]:
    """First-seen cohorts (UTC days in the range) with, per day k, the users active on day
    cohort + k and their share of the cohort (null while that day is not over)."""
    cohorts = []
    for r in store.user_retention(scope, days):
        cohorts.append(
            {
                "cohort": r.cohort.date().isoformat(),
                "users": r.users,
                "days": [
                    {
                        "day": k,
                        "users": n,
                        "rate": None if n is None or not r.users else n / r.users,
                    }
                    for k, n in r.retained.items()
                ],
            }
        )
    return {
        "from": _iso(scope.start),
        "to": _iso(scope.end),
        "days": list(days),
        "cohorts": cohorts,
    }


def top(store: Store, scope: Scope, sort: Sort, limit: int) -> dict[str, Any]:
    """Users ranked by a metric: the breakdown by user_id without the calls that have none."""
    metrics = [CATALOG[m] for m in TOP_METRICS]
    found = engine.breakdown(store, scope, USER, metrics, sort, limit + 1, approximate_ok=False)
    rows = [r for r in found["rows"] if r["user_id"] is not None][:limit]
    return {"sort": found["sort"], "order": found["order"], "rows": rows}


def user(store: Store, scope: Scope, interval: str) -> dict[str, Any]:
    """One user (the scope's user_id filter): first and last call ever (matching the filters),
    KPIs over the range, a series and the top prompts and models."""
    user_id = (scope.filter_values("user_id") or ("",))[0]
    ever = Scope(TIME_FLOOR, TIME_CEILING, scope.filters)
    first = store.calls(ever, ["timestamp"], 1, newest_first=False)
    if not first:
        raise NotFound(f"user_id: no stored call of user '{user_id}' matches the filters")
    last = store.calls(ever, ["timestamp"], 1, newest_first=True)
    kpis: list[Metric] = [CATALOG[m] for m in USER_KPIS]
    row = store.aggregate(scope, kpis)[0]
    by = [CATALOG[m] for m in ("requests", "errors", "cost_usd", "latency_p95_ms")]
    series_metrics = [CATALOG[m] for m in ("requests", "errors", "cost_usd")]
    return {
        "user_id": user_id,
        "first_seen": _iso(first[0]["timestamp"]),
        "last_seen": _iso(last[0]["timestamp"]),
        "from": _iso(scope.start),
        "to": _iso(scope.end),
        "kpis": {m.name: row[m.name] for m in kpis},
        "series": engine.timeseries(store, scope, interval, series_metrics, approximate_ok=False),
        "prompts": _rows(store, scope, "prompt_id", by),
        "models": _rows(store, scope, "model", by),
    }


def _rows(store: Store, scope: Scope, dim: str, metrics: list[Metric]) -> list[dict[str, Any]]:
    sort = Sort("requests")
    found = engine.breakdown(store, scope, Dimension(dim), metrics, sort, USER_TOP, False)
    return list(found["rows"])


def _iso(t: datetime) -> str:
    if t.tzinfo is None:  # stored rows are naive UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
