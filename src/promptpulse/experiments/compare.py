"""Compare variants side by side: per-variant figures, each variant against the first (control)
with a confidence interval and a p-value, Holm-adjusted when there are more than two variants.

Each comparison's interval and p-value come from one procedure, so they never disagree about 0:
rates use the two-proportion z-test with the score interval that inverts it (Agresti–Caffo's test
and interval at small counts); percentiles, the median included, a bootstrap test and interval
from the same resamples (Mann–Whitney U is reported alongside for the median); means (tokens and
cost per request) Welch's t-test and interval. With more than two variants each interval is
widened to the level Holm tested it at, so `significant` and the interval agree too. Figures come
from the store's `aggregate` with the catalog's metrics; raw samples from `values` / `columns`.
No SQL here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from promptpulse.errors import FieldError, Invalid
from promptpulse.experiments import custom_stats, stats
from promptpulse.model import CATALOG, AggRow, Dimension, Kind, Metric, Scope, fmt
from promptpulse.model.formula import expand_terms, terms
from promptpulse.query.custom import add_custom, leaves
from promptpulse.store import Store

Custom = Mapping[str, Metric] | None  # a project's custom metrics by name

ROW_METRICS: tuple[str, ...] = (
    "requests", "success_rate", "latency_p50_ms", "latency_p95_ms", "ttft_p95_ms",
    "tokens_per_request", "cost_per_request_usd",
)  # fmt: skip
COMPARED_BY_DEFAULT: tuple[str, ...] = ROW_METRICS[1:]
DEFAULT_PRIMARY = "success_rate"
DEFAULT_GUARDRAILS: tuple[str, ...] = ("latency_p95_ms", "cost_per_request_usd")

# rate metric -> the count metric of its numerator
RATES: dict[str, str] = {"success_rate": "successes", "error_rate": "errors"}
# mean metric -> the per-call columns whose sum is averaged (NULL counts as 0, as in the catalog)
MEANS: dict[str, tuple[str, ...]] = {
    "latency_mean_ms": ("latency_ms",),
    "tokens_per_request": ("input_tokens", "output_tokens"),
    "cost_per_request_usd": ("cost_usd",),
}
COMPARABLE: tuple[str, ...] = (
    *RATES,
    *MEANS,
    *(m.name for m in CATALOG.values() if m.kind is Kind.QUANTILE),
)
MAX_VARIANTS = 20


@dataclass(frozen=True)
class Comparison:
    metric: str
    variant: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_value_adjusted: float | None
    test: str
    significant: bool
    se: float | None = None
    # the level of (ci_low, ci_high): 1 - alpha, or Holm's stricter level with several variants
    ci_level: float | None = None
    # the interval at 1 - alpha before the multiplicity correction
    ci_low_unadjusted: float | None = None
    ci_high_unadjusted: float | None = None
    # further statistics shown alongside (Mann–Whitney U for the median); they decide nothing
    also: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("se")
        out["also"] = [dict(a) for a in self.also]
        return out


def higher_is_better(
    metric: str, primary: str, direction: str | None, custom: Custom = None
) -> bool | None:
    if metric == primary and direction is not None:
        return direction == "higher"
    return {**(custom or {}), **CATALOG}[metric].higher_is_better


def testable(metric: Metric) -> bool:
    """A custom metric is tested when its formula is made of sums over calls (terms)."""
    if metric.kind is Kind.CUSTOM:
        return expand_terms(metric.formula) is not None
    return metric.name in COMPARABLE


def check_metrics(
    primary: str,
    guardrails: Sequence[str],
    direction: str | None,
    errors: list[FieldError],
    custom: Custom = None,
) -> None:
    """Primary and guardrails must be metrics a test exists for, with a known direction."""
    known = {**(custom or {}), **CATALOG}
    for name, field in [(primary, "primary"), *((g, "guardrails") for g in guardrails)]:
        if name not in known:
            errors.append(FieldError(field, f"unknown metric {name}; see /v1/metrics/catalog"))
        elif not testable(known[name]):
            errors.append(
                FieldError(
                    field,
                    f"{name} cannot be tested; one of "
                    + ", ".join(COMPARABLE)
                    + ", or a custom metric whose formula has no percentile, maximum or "
                    "distinct count",
                )
            )
        elif higher_is_better(name, primary, direction, custom) is None:
            errors.append(
                FieldError(
                    field,
                    f"{name} has no better direction; give direction=higher or direction=lower",
                )
            )


def compare(
    store: Store,
    scope: Scope,
    by: Dimension,
    values: Sequence[str],
    primary: str = DEFAULT_PRIMARY,
    guardrails: Sequence[str] = DEFAULT_GUARDRAILS,
    alpha: float = 0.05,
    direction: str | None = None,
    names: Sequence[str] | None = None,
    seed: int = 0,
    custom: Custom = None,
) -> dict[str, Any]:
    """Every variant (a value of `by`) against the first. `names` relabels the variants in the
    response (experiments name theirs); `direction` overrides the primary metric's; `custom`:
    the project's custom metrics, usable as primary and guardrails."""
    return compare_detailed(
        store, scope, by, values, primary, guardrails, alpha, direction, names, seed, custom
    )[0]


def compare_detailed(
    store: Store,
    scope: Scope,
    by: Dimension,
    values: Sequence[str],
    primary: str = DEFAULT_PRIMARY,
    guardrails: Sequence[str] = DEFAULT_GUARDRAILS,
    alpha: float = 0.05,
    direction: str | None = None,
    names: Sequence[str] | None = None,
    seed: int = 0,
    custom: Custom = None,
) -> tuple[dict[str, Any], list[Comparison]]:
    """`compare` and its comparisons with their standard errors (for the sequential test)."""
    errors: list[FieldError] = []
    if len(values) < 2:
        errors.append(FieldError("values", "give at least two values; the first is the control"))
    if len(set(values)) != len(values):
        errors.append(FieldError("values", "each value may appear only once"))
    if len(values) > MAX_VARIANTS:
        errors.append(FieldError("values", f"at most {MAX_VARIANTS} values"))
    check_metrics(primary, guardrails, direction, errors, custom)
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    labels = list(names) if names is not None else list(values)
    compared = list(dict.fromkeys([*COMPARED_BY_DEFAULT, primary, *guardrails]))
    shown = list(dict.fromkeys([*ROW_METRICS, *compared]))
    known = {**(custom or {}), **CATALOG}
    wanted = [known[n] for n in dict.fromkeys([*shown, "successes", "errors"])]
    inside = scope.with_filter(by.name, values)
    plain = [m for m in [*wanted, *leaves(wanted)] if m.kind is not Kind.CUSTOM]
    found = add_custom(store, inside, store.aggregate(inside, plain, [by]), wanted, [by], None)
    rows = {r.key: r for r in found}
    scopes = [scope.with_filter(by.name, [v]) for v in values]

    variants = []
    for value, label, sub in zip(values, labels, scopes, strict=True):
        row = rows.get(value)
        figures: dict[str, Any] = {"value": label}
        for name in shown:
            figures[name] = _figure(known[name], row)
        figures["scores"] = store.score_summary(sub) if figures["requests"] else {}
        variants.append(figures)

    samples = _Samples(store, scopes)
    comparisons: list[Comparison] = []
    lowest = alpha / max(1, len(values) - 1)  # Holm's strictest level
    for name in compared:
        results = [
            _test(
                name, rows.get(values[0]), rows.get(v), samples, 0, i, alpha, seed, lowest, custom
            )
            for i, v in enumerate(values)
            if i > 0
        ]
        comparisons.extend(judge(name, labels[1:], results, alpha))
    return shape(
        by.name, labels, variants, comparisons, primary, guardrails, direction, custom
    ), comparisons


def judge(
    metric: str, variants: Sequence[str], results: Sequence[stats.TestResult], alpha: float
) -> list[Comparison]:
    """One metric's comparisons: Holm across the variants and, for each, the interval of the same
    procedure at the level Holm tested it at (`stats.holm_levels`), so that `significant`
    (adjusted p < alpha) holds exactly when 0 is outside (ci_low, ci_high). With one variant
    nothing is adjusted and the level is 1 - alpha."""
    raw = [r.p_value for r in results]
    adjusted = stats.holm(raw) if len(results) > 1 else raw
    levels = stats.holm_levels(raw, alpha) if len(results) > 1 else [alpha] * len(results)
    out = []
    for label, r, p_adj, level in zip(variants, results, adjusted, levels, strict=True):
        low, high = (r.ci_low, r.ci_high) if level in (None, alpha) else r.interval(level)
        out.append(
            Comparison(
                metric,
                label,
                r.difference,
                low,
                high,
                r.p_value,
                p_adj,
                r.test,
                p_adj is not None and p_adj < alpha,
                r.se,
                None if r.difference is None or level is None else 1 - level,
                r.ci_low,
                r.ci_high,
                r.also,
            )
        )
    return out


def shape(
    by: str,
    labels: Sequence[str],
    variants: list[dict[str, Any]],
    comparisons: list[Comparison],
    primary: str,
    guardrails: Sequence[str],
    direction: str | None,
    custom: Custom = None,
) -> dict[str, Any]:
    best = {
        name: _best(
            name, labels, variants, comparisons, higher_is_better(name, primary, direction, custom)
        )
        for name in dict.fromkeys(c.metric for c in comparisons)
    }
    winner, verdict = decide(labels, comparisons, primary, guardrails, direction, variants, custom)
    return {
        "by": by,
        "control": labels[0],
        "primary": primary,
        "guardrails": list(guardrails),
        "variants": variants,
        "comparisons": [c.as_dict() for c in comparisons],
        "best": best,
        "winner": winner,
        "verdict": verdict,
    }


def _figure(metric: Metric, row: AggRow | None) -> Any:
    if row is None:
        return 0 if metric.name == "requests" else None
    return row[metric.name]


class _Samples:
    """Raw per-call values of each variant, read once per column set and kept."""

    def __init__(self, store: Store, scopes: Sequence[Scope]) -> None:
        self._store = store
        self._scopes = scopes
        self._cache: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
        self._terms: dict[tuple[int, tuple[str, str]], dict[str, np.ndarray]] = {}

    def get(self, i: int, columns: tuple[str, ...], nan_as_zero: bool) -> np.ndarray:
        key = (i, columns)
        if key not in self._cache:
            if len(columns) == 1 and not nan_as_zero:
                self._cache[key] = self._store.values(self._scopes[i], columns[0])
            else:
                cols = self._store.columns(self._scopes[i], list(columns))
                self._cache[key] = (
                    np.nansum(np.vstack([cols[c] for c in columns]), axis=0)
                    if len(cols[columns[0]])
                    else np.empty(0)
                )
        return self._cache[key]

    def terms(self, i: int, metric: Metric) -> tuple[Any, dict[str, np.ndarray]]:
        """A custom metric's formula in terms, and their per-call values in variant i."""
        node = expand_terms(metric.formula)
        assert node is not None  # check_metrics admits only formulas of terms
        key = (i, ("terms", metric.name))
        if key not in self._terms:
            self._terms[key] = self._store.term_columns(self._scopes[i], terms(node))
        return node, self._terms[key]


def _test(
    name: str,
    control: AggRow | None,
    variant: AggRow | None,
    samples: _Samples,
    i_control: int,
    i_variant: int,
    alpha: float,
    seed: int,
    lowest: float | None = None,
    custom: Custom = None,
) -> stats.TestResult:
    if not control or not variant or not control["requests"] or not variant["requests"]:
        return stats.EMPTY
    metric = {**(custom or {}), **CATALOG}[name]
    if metric.kind is Kind.CUSTOM:
        node, in_control = samples.terms(i_control, metric)
        _, in_variant = samples.terms(i_variant, metric)
        return custom_stats.compare_formula(node, in_control, in_variant, alpha)
    if name in RATES:
        count = RATES[name]
        return stats.compare_proportions(
            int(control[count] or 0),
            int(control["requests"]),
            int(variant[count] or 0),
            int(variant["requests"]),
            alpha,
        )
    if name in MEANS:
        columns = MEANS[name]
        a = samples.get(i_control, columns, True)
        b = samples.get(i_variant, columns, True)
        return stats.welch_ttest(a, b, alpha)
    a = samples.get(i_control, (metric.column,), False)
    b = samples.get(i_variant, (metric.column,), False)
    if metric.q == 0.5:
        return stats.median_difference(a, b, alpha, seed, min_alpha=lowest)
    return stats.bootstrap_quantile_difference(a, b, metric.q, alpha, seed=seed, min_alpha=lowest)


def _better(c: Comparison, up: bool) -> bool:
    return (
        c.significant
        and c.difference is not None
        and (c.difference > 0) == up
        and c.difference != 0
    )


def _worse(c: Comparison, up: bool) -> bool:
    return (
        c.significant
        and c.difference is not None
        and (c.difference < 0) == up
        and c.difference != 0
    )


def _best(
    name: str,
    labels: Sequence[str],
    variants: list[dict[str, Any]],
    comparisons: list[Comparison],
    up: bool | None,
) -> str | None:
    """The best variant of a row, only when that is significant: a variant significantly better
    than the control (the best such), or the control when every variant is significantly worse."""
    if up is None:
        return None
    rows = {c.variant: c for c in comparisons if c.metric == name}
    better = [v for v in labels[1:] if _better(rows[v], up)]
    if better:
        sign = 1 if up else -1
        return max(better, key=lambda v: sign * (rows[v].difference or 0.0))
    if all(_worse(rows[v], up) for v in labels[1:]):
        return labels[0]
    return None


def decide(
    labels: Sequence[str],
    comparisons: list[Comparison],
    primary: str,
    guardrails: Sequence[str],
    direction: str | None,
    variants: list[dict[str, Any]],
    custom: Custom = None,
) -> tuple[str | None, str]:
    """The winner (or None) and a sentence saying why."""
    by_key = {(c.metric, c.variant): c for c in comparisons}
    up = bool(higher_is_better(primary, primary, direction, custom))
    if any(v["requests"] == 0 for v in variants):
        empty = [v["value"] for v in variants if v["requests"] == 0]
        return None, f"no calls for {', '.join(map(str, empty))} in this range: nothing to compare"
    candidates, breached = [], {}
    for v in labels[1:]:
        if not _better(by_key[(primary, v)], up):
            continue
        bad = [
            g
            for g in guardrails
            if g != primary
            and _worse(by_key[(g, v)], bool(higher_is_better(g, primary, direction, custom)))
        ]
        if bad:
            breached[v] = bad
        else:
            candidates.append(v)
    if candidates:
        sign = 1 if up else -1
        win = max(candidates, key=lambda v: sign * (by_key[(primary, v)].difference or 0.0))
        c = by_key[(primary, win)]
        unit = {**(custom or {}), **CATALOG}[primary].unit if primary in CATALOG else None
        return win, (
            f"{win} wins: {primary} {fmt.difference(c.difference, unit)} against {labels[0]} "
            f"(95 % CI {fmt.difference(c.ci_low, unit)} to {fmt.difference(c.ci_high, unit)}, "
            f"{fmt.p_value(c.p_value_adjusted)})"
            ", and no guardrail is significantly worse"
        )
    if breached:
        v, bad = next(iter(breached.items()))
        return None, (
            f"{v} is better on {primary} but significantly worse on {', '.join(bad)}: no winner"
        )
    worse = [v for v in labels[1:] if _worse(by_key[(primary, v)], up)]
    if worse and len(worse) == len(labels) - 1:
        return None, f"every variant is significantly worse than {labels[0]} on {primary}"
    return None, (
        f"no variant is significantly better than {labels[0]} on {primary}"
        + (f" ({', '.join(worse)} significantly worse)" if worse else "")
    )
