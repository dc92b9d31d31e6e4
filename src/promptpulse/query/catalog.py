"""Every metric, defined once: name, unit, description and how it aggregates.

The API, the dashboard, alerts, budgets, experiments, exports and reports all read this catalog.
`sql` is an aggregate over the `events` table in a portable subset of SQL (plain CASE, no FILTER
clause); quantiles are declared by column and fraction and compiled by each store's dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    AGGREGATE = "aggregate"  # a plain SQL aggregate
    QUANTILE = "quantile"  # exact percentile with linear interpolation (numpy's default)
    PER_MINUTE = "per_minute"  # requests / minutes of the window (derived after the query)
    PEAK_MINUTE = "peak_minute"  # most requests in one UTC-aligned minute (needs a sub-query)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    description: str
    kind: Kind = Kind.AGGREGATE
    sql: str = ""
    column: str = ""  # for quantiles
    q: float = 0.0  # for quantiles
    higher_is_better: bool | None = None
    additive: bool = False  # sums over disjoint ranges add up (counts, tokens, cost): forecastable

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "kind": self.kind.value,
            "higher_is_better": self.higher_is_better,
            "additive": self.additive,
        }


_IS_SUCCESS = "CASE WHEN status = 'success' THEN 1 ELSE 0 END"
_IS_ERROR = "CASE WHEN status = 'error' THEN 1 ELSE 0 END"


def _quantile(prefix: str, column: str, q: float, label: str) -> Metric:
    return Metric(
        f"{prefix}_p{round(q * 100)}_ms",
        "ms",
        f"{round(q * 100)}th percentile of {label} (exact, linear interpolation)",
        Kind.QUANTILE,
        column=column,
        q=q,
        higher_is_better=False,
    )


METRICS: tuple[Metric, ...] = (
    Metric("requests", "count", "Calls in range", sql="count(*)", additive=True),
    Metric(
        "successes", "count", "Calls with status=success", sql=f"sum({_IS_SUCCESS})", additive=True
    ),
    Metric(
        "errors",
        "count",
        "Calls with status=error",
        sql=f"sum({_IS_ERROR})",
        higher_is_better=False,
        additive=True,
    ),
    Metric(
        "success_rate",
        "ratio",
        "successes / requests",
        sql=f"sum({_IS_SUCCESS}) / nullif(count(*), 0)",
        higher_is_better=True,
    ),
    Metric(
        "error_rate",
        "ratio",
        "errors / requests",
        sql=f"sum({_IS_ERROR}) / nullif(count(*), 0)",
        higher_is_better=False,
    ),
    *(_quantile("latency", "latency_ms", q, "latency") for q in (0.5, 0.75, 0.9, 0.95, 0.99)),
    Metric("latency_max_ms", "ms", "Slowest call", sql="max(latency_ms)", higher_is_better=False),
    Metric("latency_mean_ms", "ms", "Mean latency", sql="avg(latency_ms)", higher_is_better=False),
    *(
        _quantile("ttft", "ttft_ms", q, "time to first token (calls that have it)")
        for q in (0.5, 0.95, 0.99)
    ),
    Metric(
        "input_tokens",
        "tokens",
        "Input tokens (cached included)",
        sql="coalesce(sum(input_tokens), 0)",
        additive=True,
    ),
    Metric(
        "output_tokens",
        "tokens",
        "Output tokens (reasoning included)",
        sql="coalesce(sum(output_tokens), 0)",
        additive=True,
    ),
    Metric(
        "cached_tokens",
        "tokens",
        "Input tokens read from the provider's cache",
        sql="coalesce(sum(cached_tokens), 0)",
        additive=True,
    ),
    Metric(
        "reasoning_tokens",
        "tokens",
        "Output tokens spent on reasoning",
        sql="coalesce(sum(reasoning_tokens), 0)",
        additive=True,
    ),
    Metric(
        "tokens",
        "tokens",
        "Input + output tokens",
        sql="coalesce(sum(input_tokens + output_tokens), 0)",
        additive=True,
    ),
    Metric(
        "tokens_per_request",
        "tokens",
        "tokens / requests",
        sql="sum(input_tokens + output_tokens) / nullif(count(*), 0)",
    ),
    Metric(
        "cost_usd",
        "usd",
        "Cost of the priced calls",
        sql="coalesce(sum(cost_usd), 0)",
        higher_is_better=False,
        additive=True,
    ),
    Metric(
        "cost_per_request_usd",
        "usd",
        "cost_usd / requests",
        sql="sum(cost_usd) / nullif(count(*), 0)",
        higher_is_better=False,
    ),
    Metric(
        "unpriced_requests",
        "count",
        "Calls with no known price (cost null)",
        sql="sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END)",
        additive=True,
    ),
    Metric(
        "cache_hit_rate",
        "ratio",
        "Calls served from the app's own cache / requests",
        sql="sum(CASE WHEN cache_hit THEN 1 ELSE 0 END) / nullif(count(*), 0)",
    ),
    Metric("active_users", "count", "Distinct non-null user_id", sql="count(DISTINCT user_id)"),
    Metric("rpm", "requests/min", "requests / minutes in the window", Kind.PER_MINUTE),
    Metric("rpm_peak", "requests/min", "Most requests in one UTC-aligned minute", Kind.PEAK_MINUTE),
)

CATALOG: dict[str, Metric] = {m.name: m for m in METRICS}


def get(name: str) -> Metric:
    """The metric of that name; KeyError when there is none."""
    return CATALOG[name]
