"""Fetching what rules need through the query layer, in as few queries as possible.

Rules that read the same window with the same filters share one `store.aggregate` call. Rules
that differ only in one single-valued filter (prompt_id=a, prompt_id=b, ...) share one query
grouped by that dimension, with the values ORed. Past windows (weeks ago) never change, so their
rows are cached across rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from promptpulse.alerts.rules import SCORE_PREFIX, RuleIn
from promptpulse.model import CATALOG, Dimension, Filter, Kind, Metric, Scope
from promptpulse.query.custom import add_custom, leaves
from promptpulse.store import Record, Store

CustomOf = Callable[[str | None], Mapping[str, Metric]]  # a project's custom metrics

ALL = None  # every value of the dimension
# Single-valued filters on these dimensions are batched into one grouped query.
BATCH_DIMENSIONS = (
    "prompt_id",
    "model",
    "feature",
    "environment",
    "provider",
    "project",
    "prompt_version",
)
CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class QueryKey:
    filters: tuple[Filter, ...]
    dim: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Target:
    """Where a rule's rows come from: a query shape, and which group value(s) are its own."""

    filters: tuple[Filter, ...]
    dim: str | None
    values: frozenset[str] | None  # None: all groups
    grouped: bool  # the rule itself has group_by (one alert per value)

    def key(self, start: datetime, end: datetime) -> QueryKey:
        return QueryKey(self.filters, self.dim, start, end)


def target_of(rule: RuleIn) -> Target:
    filters = {dim: tuple(sorted(vals)) for dim, vals in rule.filters.items()}
    if (rule.metric or "").startswith(SCORE_PREFIX):
        return Target(_frozen(filters), None, None, False)
    if rule.metric not in CATALOG and not rule.group_by:
        # a custom metric is its project's: keep the project in the filters, never batch it
        return Target(_frozen(filters), None, None, False)
    if rule.group_by:
        dim = rule.group_by
        values = filters.pop(dim, None)
        return Target(_frozen(filters), dim, frozenset(values) if values else ALL, True)
    for dim in BATCH_DIMENSIONS:
        vals = filters.get(dim)
        if vals is not None and len(vals) == 1:
            filters.pop(dim)
            return Target(_frozen(filters), dim, frozenset(vals), False)
    return Target(_frozen(filters), None, None, False)


def _frozen(filters: dict[str, tuple[str, ...]]) -> tuple[Filter, ...]:
    return tuple(Filter(d, v) for d, v in sorted(filters.items()))


@dataclass
class _Want:
    metrics: set[str] = field(default_factory=set)
    values: set[str] | None = field(default_factory=set)  # None: all


class Fetcher:
    """Collect wants, run them, hand back rows. `cache` survives rounds (past windows only)."""

    def __init__(
        self,
        store: Store,
        cache: dict[Any, dict[Any, Record]] | None = None,
        custom_of: CustomOf | None = None,
    ) -> None:
        self.store = store
        self.custom_of = custom_of or (lambda project: {})
        self.cache = cache if cache is not None else {}
        self._wants: dict[QueryKey, _Want] = {}
        self._cacheable: set[QueryKey] = set()
        self._rows: dict[QueryKey, dict[Any, Record]] = {}
        self._errors: dict[QueryKey, str] = {}
        self.queries = 0

    def want(
        self, target: Target, start: datetime, end: datetime, metric: str, cacheable: bool = False
    ) -> QueryKey:
        key = target.key(start, end)
        w = self._wants.setdefault(key, _Want())
        w.metrics.add(metric)
        if target.dim is not None:
            if target.values is None or w.values is None:
                w.values = None
            else:
                w.values |= target.values
        if cacheable:
            self._cacheable.add(key)
        return key

    def run(self) -> None:
        for key, w in self._wants.items():
            values = None if w.values is None else tuple(sorted(w.values))
            ck = (key, tuple(sorted(w.metrics)), values)
            if key in self._cacheable and ck in self.cache:
                self._rows[key] = self.cache[ck]
                continue
            try:
                rows = self._query(key, w.metrics, values)
            except Exception as exc:  # one bad query must not stop the round
                self._errors[key] = f"{type(exc).__name__}: {exc}"
                continue
            self._rows[key] = rows
            if key in self._cacheable:
                if len(self.cache) >= CACHE_LIMIT:
                    for old in list(self.cache)[: CACHE_LIMIT // 4]:
                        del self.cache[old]
                self.cache[ck] = rows

    def _query(
        self, key: QueryKey, metrics: Iterable[str], values: tuple[str, ...] | None
    ) -> dict[Any, Record]:
        filters = key.filters
        if key.dim is not None and values is not None:
            filters = (*filters, Filter(key.dim, values))
        scope = Scope(key.start, key.end, filters)
        scores = [m[len(SCORE_PREFIX) :] for m in metrics if m.startswith(SCORE_PREFIX)]
        out: dict[Any, Record] = {}
        if scores:
            self.queries += 1
            summary = self.store.score_summary(scope)
            out[None] = {f"{SCORE_PREFIX}{n}": summary.get(n) for n in scores}
        wanted = {"requests"} | {m for m in metrics if not m.startswith(SCORE_PREFIX)}
        projects = scope.filter_values("project")
        custom_metrics = self.custom_of(projects[0] if projects and len(projects) == 1 else None)
        custom = [custom_metrics[m] for m in sorted(wanted) if m not in CATALOG]
        if any(m not in CATALOG and m not in custom_metrics for m in wanted):
            missing = sorted(m for m in wanted if m not in CATALOG and m not in custom_metrics)
            raise ValueError(f"unknown metric {', '.join(missing)} (a custom metric deleted?)")
        catalog = [CATALOG[m] for m in sorted(wanted) if m in CATALOG]
        sql = [m for m in [*catalog, *leaves(custom)] if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
        if len(wanted) > 1 or not scores:
            self.queries += 1
            groups = [Dimension(key.dim)] if key.dim else []
            rows = self.store.aggregate(scope, sql, groups)
            for row in add_custom(self.store, scope, rows, custom, groups, None):
                g = row.key if key.dim else None
                out.setdefault(g, {}).update(row.values)
        return out

    def error(self, key: QueryKey) -> str | None:
        return self._errors.get(key)

    def rows(self, key: QueryKey) -> dict[Any, Record]:
        return self._rows.get(key, {})


def value_of(metric: str, row: Record | None, window: timedelta) -> tuple[float | None, int]:
    """(value, requests) of a metric from a row; an absent row is an empty window."""
    if metric.startswith(SCORE_PREFIX):
        s = (row or {}).get(metric)
        return (None, 0) if not s else (float(s["mean"]), int(s["count"]))
    requests = int((row or {}).get("requests") or 0)
    if metric == "rpm":
        return requests / (window.total_seconds() / 60), requests
    if row is None:
        m = CATALOG.get(metric)  # a custom metric of an empty window has no value
        return (0.0 if m is not None and m.additive else None), 0
    v = row.get(metric)
    return (None if v is None else float(v)), requests
