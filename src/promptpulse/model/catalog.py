"""Every metric, defined once: name, unit, description and how it is computed.

The API, the dashboard, alerts, budgets, experiments, exports and reports all read this catalog.
A metric is built from *base aggregates* (`Agg`: count, count where, sum, max, distinct count);
several metrics share them (success_rate and successes both use "count where success"), so each
store computes every base aggregate once per query, in its own dialect, and the catalog derives
the metric values from them here, in one place. Percentiles are declared by column and fraction;
each store computes them exactly (numpy's linear interpolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    AGGREGATE = "aggregate"  # derived from base aggregates
    QUANTILE = "quantile"  # exact percentile with linear interpolation (numpy's default)
    PER_MINUTE = "per_minute"  # requests / minutes of the window (derived after the query)
    PEAK_MINUTE = "peak_minute"  # most requests in one UTC-aligned minute (needs a sub-query)
    CUSTOM = "custom"  # a project's formula over metrics and terms (model/formula.py)


class Op(StrEnum):
    COUNT = "count"  # rows
    COUNT_IF = "count_if"  # rows where a condition holds
    COUNT_VALUES = "count_values"  # rows where a column is not null
    SUM = "sum"
    MAX = "max"
    DISTINCT = "distinct"  # distinct non-null values of a column


# Row conditions by name (COUNT_IF): success (status = success), error (status = error),
# unpriced (cost_usd is null), cache_hit. Each store backend compiles a name in its own dialect.
CONDITIONS: tuple[str, ...] = ("success", "error", "unpriced", "cache_hit")


@dataclass(frozen=True)
class Agg:
    op: Op
    arg: str = ""  # a column, or a condition name for COUNT_IF


COUNT = Agg(Op.COUNT)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    description: str
    kind: Kind = Kind.AGGREGATE
    parts: tuple[Agg, ...] = ()  # numerator: the sum of these base aggregates
    per: Agg | None = None  # denominator (a ratio); None when the value is the numerator
    zero_when_empty: bool = False  # a sum of nothing is 0 (a ratio still needs a denominator)
    column: str = ""  # for quantiles
    q: float = 0.0  # for quantiles
    higher_is_better: bool | None = None
    additive: bool = False  # sums over disjoint ranges add up (counts, tokens, cost): forecastable
    formula: Any = None  # a custom metric's tree (model.formula.Node); its text in `source`
    source: str = ""

    def value(self, base: Mapping[Agg, Any]) -> Any:
        """The metric from the base aggregates of one group."""
        parts = [base[a] for a in self.parts]
        if any(p is None for p in parts):
            numerator = 0 if self.zero_when_empty else None
        else:
            numerator = sum(parts)
        if self.per is None:
            return numerator
        denominator = base[self.per]
        if numerator is None or not denominator:
            return None
        return numerator / denominator

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "kind": self.kind.value,
            "higher_is_better": self.higher_is_better,
            "additive": self.additive,
            **({"custom": True, "formula": self.source} if self.kind is Kind.CUSTOM else {}),
        }


def _count(name: str, description: str, agg: Agg, **kw: Any) -> Metric:
    return Metric(
        name, "count", description, parts=(agg,), zero_when_empty=True, additive=True, **kw
    )


def _sum(name: str, unit: str, description: str, *columns: str, **kw: Any) -> Metric:
    return Metric(
        name,
        unit,
        description,
        parts=tuple(Agg(Op.SUM, c) for c in columns),
        zero_when_empty=True,
        additive=True,
        **kw,
    )


def _rate(name: str, description: str, condition: str, higher_is_better: bool | None) -> Metric:
    return Metric(
        name,
        "ratio",
        description,
        parts=(Agg(Op.COUNT_IF, condition),),
        per=COUNT,
        higher_is_better=higher_is_better,
    )


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
    _count("requests", "Calls in range", COUNT),
    _count("successes", "Calls with status=success", Agg(Op.COUNT_IF, "success")),
    _count("errors", "Calls with status=error", Agg(Op.COUNT_IF, "error"),
           higher_is_better=False),
    _rate("success_rate", "successes / requests", "success", True),
    _rate("error_rate", "errors / requests", "error", False),
    *(_quantile("latency", "latency_ms", q, "latency") for q in (0.5, 0.75, 0.9, 0.95, 0.99)),
    Metric("latency_max_ms", "ms", "Slowest call", parts=(Agg(Op.MAX, "latency_ms"),),
           higher_is_better=False),
    Metric("latency_mean_ms", "ms", "Mean latency", parts=(Agg(Op.SUM, "latency_ms"),),
           per=COUNT, higher_is_better=False),
    *(_quantile("ttft", "ttft_ms", q, "time to first token (calls that have it)")
      for q in (0.5, 0.95, 0.99)),
    # Streaming speed (model/derived.py): percentiles of per-call figures a store derives.
    *(_quantile("tpot", "tpot_ms", q, "time per output token, (latency - ttft) / "
                "(output_tokens - 1), over calls with a TTFT and at least 2 output tokens")
      for q in (0.5, 0.9, 0.95, 0.99)),
    *(_quantile("generation", "generation_ms", q, "generation time, latency - ttft, over "
                "calls with a TTFT") for q in (0.5, 0.95, 0.99)),
    # Throughput: higher is better, so its bad tail is the low percentile (p5).
    *(Metric(f"output_tps_p{round(q * 100)}", "tokens/s",
             f"{round(q * 100)}th percentile of end-to-end output tokens per second, "
             "output_tokens / (latency / 1000), over calls with output tokens (exact, linear "
             "interpolation)", Kind.QUANTILE, column="output_tps", q=q, higher_is_better=True)
      for q in (0.05, 0.5, 0.95)),
    _sum("input_tokens", "tokens", "Input tokens (cached included)", "input_tokens"),
    _sum("output_tokens", "tokens", "Output tokens (reasoning included)", "output_tokens"),
    _sum("cached_tokens", "tokens", "Input tokens read from the provider's cache",
         "cached_tokens"),
    _sum("reasoning_tokens", "tokens", "Output tokens spent on reasoning", "reasoning_tokens"),
    _sum("cache_write_tokens", "tokens", "Input tokens written to the provider's cache",
         "cache_write_tokens"),
    _sum("tokens", "tokens", "Input + output tokens", "input_tokens", "output_tokens"),
    Metric("tokens_per_request", "tokens", "tokens / requests",
           parts=(Agg(Op.SUM, "input_tokens"), Agg(Op.SUM, "output_tokens")), per=COUNT),
    Metric("output_tokens_per_request", "tokens", "output_tokens / requests",
           parts=(Agg(Op.SUM, "output_tokens"),), per=COUNT),
    _sum("cost_usd", "usd", "Cost of the priced calls", "cost_usd", higher_is_better=False),
    Metric("cost_per_request_usd", "usd", "cost_usd / requests (unpriced calls count as 0)",
           parts=(Agg(Op.SUM, "cost_usd"),), per=COUNT, zero_when_empty=True,
           higher_is_better=False),
    _count("unpriced_requests", "Calls with no known price (cost null)",
           Agg(Op.COUNT_IF, "unpriced")),
    _rate("cache_hit_rate", "Calls served from the app's own cache / requests", "cache_hit",
          None),
    Metric("active_users", "count", "Distinct non-null user_id",
           parts=(Agg(Op.DISTINCT, "user_id"),), zero_when_empty=True),
    Metric("rpm", "requests/min", "requests / minutes in the window", Kind.PER_MINUTE,
           parts=(COUNT,)),
    Metric("rpm_peak", "requests/min", "Most requests in one UTC-aligned minute",
           Kind.PEAK_MINUTE),
)  # fmt: skip

CATALOG: dict[str, Metric] = {m.name: m for m in METRICS}


def get(name: str) -> Metric:
    """The metric of that name; KeyError when there is none."""
    return CATALOG[name]


def base_aggregates(metrics: tuple[Metric, ...] | list[Metric]) -> list[Agg]:
    """Every base aggregate the metrics need, each once, in a stable order."""
    seen: dict[Agg, None] = {}
    for m in metrics:
        for a in (*m.parts, *((m.per,) if m.per else ())):
            seen.setdefault(a, None)
    return list(seen)
