"""New vs returning users, the ClickHouse way (a mixin of ClickStore, so `store.py` stays about
calls). Definitions as in the DuckDB store: a call with a user_id in scope is "new" when its user
had no call in the same project before `since`; calls without user_id are in neither cohort."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from promptpulse.model import (
    AggRow,
    Dimension,
    Kind,
    Metric,
    Scope,
    base_aggregates,
    check_value_fields,
)
from promptpulse.store.click.sql import (
    EVENTS,
    Params,
    Record,
    agg_sql,
    dimension_sql,
    floats,
    py,
    where_clause,
)
from promptpulse.store.values_sql import value_sql


class CohortsMixin:
    _records: Callable[..., list[Record]]
    _arrow: Callable[..., pa.Table]

    def _cohort_sql(self, scope: Scope, since: datetime, params: Params) -> str:
        """A subquery: the calls of `scope` that have a user_id, with `is_new`."""
        where = where_clause(scope, params)
        history = f"timestamp < {params.time(since)} AND user_id IS NOT NULL"
        projects = scope.filter_values("project")
        if projects:
            history += f" AND project IN {params.texts(projects)}"
        seen = f"SELECT DISTINCT project, assumeNotNull(user_id) FROM {EVENTS} WHERE {history}"
        return (
            f"(SELECT *, (project, assumeNotNull(user_id)) NOT IN ({seen}) AS is_new "
            f"FROM {EVENTS} WHERE {where} AND user_id IS NOT NULL)"
        )

    def cohort_aggregate(
        self,
        scope: Scope,
        since: datetime,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
    ) -> list[AggRow]:
        """Catalog metrics (aggregates and exact percentiles) per cohort and group, in one scan
        from raw calls: each row's group is (cohort: "new" or "returning", *group_by values)."""
        params = Params()
        scoped = self._cohort_sql(scope, since, params)
        keys = [("cohort", "if(is_new, 'new', 'returning')")]
        keys += [(f"g{i}", dimension_sql(d)) for i, d in enumerate(group_by)]
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        quantiles = [m for m in metrics if m.kind is Kind.QUANTILE]
        if len(derived) + len(quantiles) != len(metrics):
            raise ValueError("cohorts take aggregate and percentile metrics only")
        check_value_fields([m.column for m in quantiles])
        aggs = base_aggregates(derived)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{agg_sql(a)} AS a{i}" for i, a in enumerate(aggs)]
        select += [
            f"quantileExactInclusive({m.q!r})({value_sql(m.column)}) AS q{i}"
            for i, m in enumerate(quantiles)
        ]
        sql = (
            f"SELECT {', '.join(select)} FROM {scoped} "
            f"GROUP BY {', '.join(alias for alias, _ in keys)}"
        )
        rows = []
        for record in self._records(sql, params):
            base = {a: py(record[f"a{i}"]) for i, a in enumerate(aggs)}
            values = {m.name: m.value(base) for m in derived}
            for i, m in enumerate(quantiles):
                values[m.name] = py(record[f"q{i}"])
            group = (record["cohort"], *(record[f"g{i}"] for i in range(len(group_by))))
            rows.append(AggRow(values, group))
        return rows

    def cohort_columns(
        self, scope: Scope, since: datetime, new: bool, columns: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Like `columns`, for the calls of one cohort (new users' or returning users'): the raw
        per-call sample the mean and percentile tests need. Callers bound the scope."""
        check_value_fields(columns, at_least_one=True)
        params = Params()
        scoped = self._cohort_sql(scope, since, params)
        select = ", ".join(f"toFloat64({value_sql(c)}) AS {c}" for c in columns)
        flag = params.add(int(new), "UInt8")
        result = self._arrow(f"SELECT {select} FROM {scoped} WHERE is_new = {flag}", params)
        return {c: floats(result[c]) for c in columns}
