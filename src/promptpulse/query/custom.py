"""Custom metrics in a query: their catalog leaves come from the store's `aggregate` with the
other metrics (rollups and all), their terms from `term_aggregate`, and the formula is evaluated
per group and bucket here. No SQL here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptpulse.model import CATALOG, AggRow, Dimension, Kind, Metric, Scope
from promptpulse.model.formula import evaluate, metric_names, terms
from promptpulse.store import Store


def leaves(metrics: Sequence[Metric]) -> list[Metric]:
    """The catalog metrics the custom ones among `metrics` read (not already asked for)."""
    asked = {m.name for m in metrics}
    out: dict[str, Metric] = {}
    for m in metrics:
        if m.kind is Kind.CUSTOM:
            for name in metric_names(m.formula):
                if name not in asked:
                    out.setdefault(name, CATALOG[name])
    return list(out.values())


def custom_value(metric: Metric, values: Mapping[str, Any]) -> float | None:
    """The formula over one group's values; a leaf missing there (an empty bucket) is what an
    empty group gives: 0 for counts, sums and terms, null for percentiles and ratios."""
    filled = dict(values)
    for name in metric_names(metric.formula):
        if name not in filled:
            filled[name] = 0 if CATALOG[name].zero_when_empty else None
    for t in terms(metric.formula):
        filled.setdefault(t.key, 0)
    return evaluate(metric.formula, filled)


def add_custom(
    store: Store,
    scope: Scope,
    rows: list[AggRow],
    metrics: Sequence[Metric],
    group_by: Sequence[Dimension],
    interval: str | None,
) -> list[AggRow]:
    """`rows` (from `aggregate`, leaves included) with every custom metric of `metrics` added;
    a group that only the terms see gets a row of its own."""
    custom = [m for m in metrics if m.kind is Kind.CUSTOM]
    if not custom:
        return rows
    wanted = list(dict.fromkeys(t for m in custom for t in terms(m.formula)))
    by_key = {(r.t, r.group): r for r in rows}
    if wanted:
        for tr in store.term_aggregate(scope, wanted, group_by, interval):
            row = by_key.get((tr.t, tr.group))
            if row is None:
                row = by_key[(tr.t, tr.group)] = AggRow({}, tr.group, tr.t)
                rows.append(row)
            row.values.update(tr.values)
    for row in rows:
        for m in custom:
            row.values[m.name] = custom_value(m, row.values)
    return rows


def totals(store: Store, scope: Scope, metrics: Sequence[Metric]) -> dict[str, float | None]:
    """Custom metrics over a whole scope (reports' key figures), by name."""
    plain = [CATALOG["requests"], *leaves(metrics)]
    sql = [m for m in plain if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
    rows = add_custom(store, scope, store.aggregate(scope, sql), metrics, (), None)
    values = rows[0].values if rows else {}
    return {m.name: values.get(m.name, custom_value(m, {})) for m in metrics}
