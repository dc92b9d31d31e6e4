"""An experiment's results: the comparison, the sample-ratio check, the sequential decision,
the plan (calls needed, days to go), the daily cohorts and the new vs returning users cohorts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from promptpulse.experiments import power, sequential, stats
from promptpulse.experiments.compare import (
    RATES,
    Comparison,
    _Samples,
    _test,
    compare_detailed,
    higher_is_better,
    judge,
)
from promptpulse.experiments.repo import Experiment, exposure_counts
from promptpulse.meta import MetaDB, project_metrics
from promptpulse.model import CATALOG, AggRow, Dimension, Kind, Metric, Scope, fmt
from promptpulse.query.custom import add_custom, leaves
from promptpulse.query.engine import bucket_starts
from promptpulse.store import Store

SRM_ALPHA = 0.001  # a sample-ratio mismatch this unlikely by chance means broken assignment
GUARDRAIL_TAU = 0.10  # mixture scale for guardrails: a 10 % change of the control's value


def experiment_scope(exp: Experiment, now: datetime) -> Scope:
    end = min(exp.end, now) if exp.end else now
    start = min(exp.start, end - timedelta(seconds=1))
    return Scope(start, end).with_filter("project", [exp.project])


def results(store: Store, meta: MetaDB, exp: Experiment, now: datetime) -> dict[str, Any]:
    scope = experiment_scope(exp, now)
    dim = Dimension(exp.dimension)
    values = [v.value for v in exp.variants]
    names = [v.name for v in exp.variants]
    custom = project_metrics(meta.engine, exp.project)
    base, found = compare_detailed(
        store,
        scope,
        dim,
        values,
        exp.primary_metric,
        exp.guardrails,
        exp.alpha,
        exp.direction,
        names,
        0,
        custom,
    )
    comparisons = {(c.metric, c.variant): c for c in found}
    srm = sample_ratio(meta, exp, base)
    seq = sequential_results(store, scope, dim, values, names, exp, base, comparisons, custom)
    days = max((scope.end - scope.start).total_seconds() / 86400, 1 / 24)
    out = {
        "experiment": exp.as_dict(),
        "from": _iso(scope.start),
        "to": _iso(scope.end),
        **base,
        "srm": srm,
        "sequential": seq,
        "decision": seq["decision"],
        "plan": plan_for(exp, base, comparisons, days),
        "daily": daily(store, scope, dim, values, names, exp.primary_metric, custom),
        "cohorts": cohorts(store, scope, dim, values, names, exp, base)
        if exp.primary_metric not in custom
        else {"note": "new vs returning users are not split for a custom primary metric"},
    }
    if srm["mismatch"]:
        out["verdict"] = "SAMPLE RATIO MISMATCH: " + srm["message"] + " " + base["verdict"]
    return out


def sample_ratio(meta: MetaDB, exp: Experiment, base: dict[str, Any]) -> dict[str, Any]:
    """Chi-square of observed units (exposures, or calls when none were recorded) against the
    intended split."""
    exposed = exposure_counts(meta, exp)
    source = "exposures" if exposed else "calls"
    observed = (
        [exposed.get(v.name, 0) for v in exp.variants]
        if exposed
        else [int(v["requests"] or 0) for v in base["variants"]]
    )
    weights = [v.weight for v in exp.variants]
    if sum(observed) == 0:
        return {
            "source": source,
            "observed": observed,
            "expected": [0.0] * len(observed),
            "chi2": None,
            "p_value": None,
            "mismatch": False,
            "message": "no data yet",
        }
    chi = stats.chi_square_goodness_of_fit(observed, weights)
    mismatch = chi.p_value < SRM_ALPHA
    message = (
        f"the split of {source} ({', '.join(map(fmt.count, observed))}) is far from the "
        f"intended ({', '.join(map(fmt.count, chi.expected))}), {fmt.p_value(chi.p_value)}: "
        "assignment or logging is broken; do not trust these results."
        if mismatch
        else f"the split of {source} matches the intended one ({fmt.p_value(chi.p_value)})"
    )
    return {
        "source": source,
        "observed": observed,
        "expected": chi.expected,
        "chi2": chi.statistic,
        "p_value": chi.p_value,
        "mismatch": mismatch,
        "message": message,
    }


def _tau(exp: Experiment, metric: str, control_value: float | None) -> float:
    if metric == exp.primary_metric and exp.mde:
        return exp.mde
    if metric in RATES:
        return 0.01
    return max(abs(control_value or 0.0) * GUARDRAIL_TAU, 1e-12)


def sequential_results(
    store: Store,
    scope: Scope,
    dim: Dimension,
    values: list[str],
    names: list[str],
    exp: Experiment,
    base: dict[str, Any],
    comparisons: dict[tuple[str, str], Comparison],
    custom: dict[str, Metric] | None = None,
) -> dict[str, Any]:
    """Always-valid p-values and confidence sequences (mSPRT) and the decision they allow."""
    control = base["variants"][0]
    rows: list[dict[str, Any]] = []
    for metric in dict.fromkeys([exp.primary_metric, *exp.guardrails]):
        tau = _tau(exp, metric, control.get(metric))
        running = _daily_running_p(store, scope, dim, values, metric, tau)
        for i, name in enumerate(names[1:], start=1):
            c = comparisons[(metric, name)]
            row: dict[str, Any] = {"metric": metric, "variant": name, "difference": c.difference}
            if c.difference is None or c.se is None:
                rows.append({**row, "cs_low": None, "cs_high": None, "p_value": None})
                continue
            low, high = sequential.confidence_sequence(c.difference, c.se, tau, exp.alpha)
            p = _always_valid_p(c, tau, running, i, control, base["variants"][i])
            rows.append({**row, "cs_low": float(low), "cs_high": float(high), "p_value": p})
    # Holm across the variants of each metric
    for metric in dict.fromkeys(r["metric"] for r in rows):
        group = [r for r in rows if r["metric"] == metric]
        adjusted = stats.holm([r["p_value"] for r in group])
        for r, p in zip(group, adjusted, strict=True):
            r["p_value_adjusted"] = p
            r["significant"] = p is not None and p <= exp.alpha
    return {
        "method": "msprt",
        "alpha": exp.alpha,
        "tests": rows,
        "decision": _decide(exp, names, rows, custom),
    }


def _always_valid_p(
    c: Comparison,
    tau: float,
    running: list[float | None] | None,
    i: int,
    control: dict[str, Any],
    variant: dict[str, Any],
) -> float | None:
    """The mSPRT p-value of variant i against the control: for rates, the running minimum over
    daily looks (pooled variance); 1 below the minimum calls per arm; else from the estimate."""
    if running is not None:
        return running[i - 1]
    if min(control["requests"], variant["requests"]) < sequential.MIN_CALLS_PER_ARM:
        return 1.0
    assert c.difference is not None and c.se is not None
    return float(sequential.always_valid_p(c.difference, c.se, tau))


def _daily_running_p(
    store: Store, scope: Scope, dim: Dimension, values: list[str], metric: str, tau: float
) -> list[float | None] | None:
    """For rates: the running minimum of the always-valid p over daily looks."""
    if metric not in RATES:
        return None
    count = RATES[metric]
    rows = store.aggregate(
        scope.with_filter(dim.name, values), [CATALOG["requests"], CATALOG[count]], [dim], "day"
    )
    starts = [t.replace(tzinfo=None) for t in bucket_starts(scope.start, scope.end, "day")]
    index = {t: i for i, t in enumerate(starts)}
    n = np.zeros((len(values), len(starts)))
    x = np.zeros((len(values), len(starts)))
    position = {v: i for i, v in enumerate(values)}
    for r in rows:
        t = r.t.replace(tzinfo=None) if r.t else None
        if r.key in position and t in index:
            n[position[r.key], index[t]] = r["requests"] or 0
            x[position[r.key], index[t]] = r[count] or 0
    n, x = np.cumsum(n, axis=1), np.cumsum(x, axis=1)
    out: list[float | None] = []
    for i in range(1, len(values)):
        _, _, p = sequential.proportion_looks(x[0], n[0], x[i], n[i], tau)
        out.append(float(p[-1]) if len(p) else None)
    return out


def _decide(
    exp: Experiment,
    names: list[str],
    rows: list[dict[str, Any]],
    custom: dict[str, Metric] | None = None,
) -> str:
    def up(metric: str) -> bool:
        return bool(higher_is_better(metric, exp.primary_metric, exp.direction, custom))

    def better(r: dict[str, Any]) -> bool:
        return r["significant"] and (r["difference"] > 0) == up(r["metric"])

    def worse(r: dict[str, Any]) -> bool:
        return r["significant"] and (r["difference"] < 0) == up(r["metric"])

    primary = [r for r in rows if r["metric"] == exp.primary_metric]
    rails = [r for r in rows if r["metric"] != exp.primary_metric]
    if any(worse(r) for r in rails if r["difference"] is not None):
        return "stop: guardrail breached"
    winners = [r for r in primary if r["difference"] is not None and better(r)]
    if winners:
        sign = 1 if up(exp.primary_metric) else -1
        return f"stop: {max(winners, key=lambda r: sign * r['difference'])['variant']} wins"
    if primary and all(r["difference"] is not None and worse(r) for r in primary):
        return f"stop: {names[0]} wins"
    if (
        exp.mde
        and primary
        and all(
            r["cs_low"] is not None and -exp.mde < r["cs_low"] and r["cs_high"] < exp.mde
            for r in primary
        )
    ):
        return "stop: no meaningful difference"
    return "keep running"


def plan_for(
    exp: Experiment,
    base: dict[str, Any],
    comparisons: dict[tuple[str, str], Comparison],
    days: float,
) -> dict[str, Any]:
    """Calls needed per variant for the primary metric at the experiment's mde, alpha and power,
    and from the traffic so far, the days still to go."""
    control = base["variants"][0]
    out: dict[str, Any] = {  # the same keys whether or not a plan could be made
        "per_variant": None,
        "calls_so_far": min(int(v["requests"] or 0) for v in base["variants"]),
        "calls_per_day": None,
        "days_to_go": None,
        "note": None,
    }
    if not exp.mde:
        out["note"] = "set the experiment's mde (minimum detectable effect) to plan"
        return out
    metric = exp.primary_metric
    try:
        if metric in RATES:
            baseline = control.get(metric)
            if baseline is None or not 0 < baseline < 1:
                out["note"] = "no usable baseline rate yet"
                return out
            plan = power.sample_size_proportions(baseline, exp.mde, exp.alpha, exp.power)
        else:
            first = comparisons.get((metric, base["variants"][1]["value"]))
            n0 = control["requests"] or 0
            if first is None or first.se is None or not n0:
                out["note"] = "no usable spread of the metric yet"
                return out
            sd = first.se * np.sqrt(n0 / 2)  # se² ≈ 2 sd² / n with equal groups
            plan = power.sample_size_means(float(sd), exp.mde, exp.alpha, exp.power)
    except Exception as exc:  # an effect too small to plan for, a zero spread
        out["note"] = str(exc)
        return out
    smallest = min(int(v["requests"] or 0) for v in base["variants"])
    weights = [v.weight for v in exp.variants]
    share = min(weights) / sum(weights)
    total = sum(int(v["requests"] or 0) for v in base["variants"])
    per_day = total * share / days
    out.update(
        per_variant=plan.per_variant,
        calls_so_far=smallest,
        calls_per_day=per_day,
        days_to_go=max(0.0, (plan.per_variant - smallest) / per_day) if per_day else None,
    )
    return out


def daily(
    store: Store,
    scope: Scope,
    dim: Dimension,
    values: list[str],
    names: list[str],
    metric: str,
    custom: dict[str, Metric] | None = None,
) -> list[dict[str, Any]]:
    """Per UTC day and variant: calls and the primary metric."""
    wanted = [CATALOG["requests"], {**(custom or {}), **CATALOG}[metric]]
    inside = scope.with_filter(dim.name, values)
    plain = [m for m in [*wanted, *leaves(wanted)] if m.kind is not Kind.CUSTOM]
    rows = store.aggregate(inside, plain, [dim], "day")
    rows = add_custom(store, inside, rows, wanted, [dim], "day")
    label = dict(zip(values, names, strict=True))
    out = [
        {
            "t": _iso(r.t),  # type: ignore[arg-type]
            "variant": label.get(r.key, r.key),
            "requests": r["requests"],
            metric: r[metric],
        }
        for r in rows
        if r.key in label
    ]
    out.sort(key=lambda r: (r["t"], names.index(r["variant"])))
    return out


COHORT_NOTE = (
    "new: users whose first call in the project is at or after the experiment's start; "
    "returning: users with an earlier call there. Calls without user_id are in neither cohort; "
    "history is the raw calls still stored, so users whose earlier calls have aged out of raw "
    "retention count as new."
)


class _CohortSamples(_Samples):
    """Raw per-call values of each variant within one cohort, for the mean and percentile
    tests."""

    def __init__(self, store: Store, scopes: list[Scope], since: datetime, new: bool) -> None:
        super().__init__(store, scopes)
        self._since, self._new = since, new

    def get(self, i: int, columns: tuple[str, ...], nan_as_zero: bool) -> np.ndarray:
        key = (i, columns)
        if key not in self._cache:
            cols = self._store.cohort_columns(self._scopes[i], self._since, self._new, columns)
            if nan_as_zero:
                stacked = np.vstack([cols[c] for c in columns])
                value = np.nansum(stacked, axis=0) if stacked.shape[1] else np.empty(0)
            else:
                value = cols[columns[0]]
                value = value[~np.isnan(value)]
            self._cache[key] = value
        return self._cache[key]


def cohorts(
    store: Store,
    scope: Scope,
    dim: Dimension,
    values: list[str],
    names: list[str],
    exp: Experiment,
    base: dict[str, Any],
) -> dict[str, Any]:
    """New vs returning users: per cohort and variant the calls, the users and the primary
    metric, and the primary metric of each variant against the control (Holm across variants,
    as in the main comparison), so a reader sees whether the effect holds in both."""
    metric = exp.primary_metric
    wanted = [CATALOG["requests"], CATALOG["active_users"], CATALOG[metric]]
    if metric in RATES:
        wanted.append(CATALOG[RATES[metric]])
    since = scope.start
    rows = store.cohort_aggregate(scope.with_filter(dim.name, values), since, wanted, [dim])
    found = {r.group: r for r in rows}  # (cohort, variant value)
    scopes = [scope.with_filter(dim.name, [v]) for v in values]
    lowest = exp.alpha / max(1, len(values) - 1)
    out: dict[str, Any] = {"since": _iso(since), "note": COHORT_NOTE}
    in_cohorts = [0] * len(values)
    for cohort in ("new", "returning"):
        samples = _CohortSamples(store, scopes, since, cohort == "new")
        figures = _cohort_figures(found, cohort, values, names, metric)
        for i, f in enumerate(figures):
            in_cohorts[i] += f["requests"]
        tests = [
            _test(
                metric,
                found.get((cohort, values[0])),
                found.get((cohort, v)),
                samples,
                0,
                i,
                exp.alpha,
                0,
                lowest,
            )
            for i, v in enumerate(values)
            if i > 0
        ]
        out[cohort] = {
            "variants": figures,
            "comparisons": [c.as_dict() for c in judge(metric, names[1:], tests, exp.alpha)],
        }
    out["calls_without_user_id"] = {
        name: int(v["requests"] or 0) - n
        for name, v, n in zip(names, base["variants"], in_cohorts, strict=True)
    }
    return out


def _cohort_figures(
    found: dict[tuple[Any, ...], AggRow],
    cohort: str,
    values: list[str],
    names: list[str],
    metric: str,
) -> list[dict[str, Any]]:
    """Per variant: calls, users and the primary metric within one cohort."""
    figures = []
    for value, name in zip(values, names, strict=True):
        row = found.get((cohort, value))
        figures.append(
            {
                "value": name,
                "requests": int(row["requests"]) if row else 0,
                "users": int(row["active_users"] or 0) if row else 0,
                metric: row[metric] if row else None,
            }
        )
    return figures


def _iso(t: datetime) -> str:
    from datetime import UTC

    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.isoformat().replace("+00:00", "Z")
