"""New vs returning users, the DuckDB way (a mixin of DuckStore, so `store.py` stays about calls).

A call with a user_id in scope is "new" when its user had no call in the same project before
`since` (their first call ever there is at or after it), else "returning". Calls without user_id
are in neither cohort. History is whatever raw calls are still stored: a user whose earlier calls
fell out of raw retention counts as new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from promptpulse.model import (
    AggRow,
    Dimension,
    Kind,
    Metric,
    Scope,
    base_aggregates,
    check_value_fields,
)
from promptpulse.store.duck.sql import (
    Record,
    agg_sql,
    dimension_sql,
    floats,
    naive_utc,
    py,
    where_clause,
)
from promptpulse.store.values_sql import value_sql


class CohortsMixin:
    _cursor: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    _records: Callable[[str, Sequence[Any]], list[Record]]

    def _cohort_sql(self, scope: Scope, since: datetime) -> tuple[str, list[Any]]:
        """A `scoped` CTE: the calls of `scope` that have a user_id, with `is_new`."""
        where, params = where_clause(scope, alias="e")
        projects = scope.filter_values("project")
        history = "h.timestamp < ? AND h.user_id IS NOT NULL"
        history_params: list[Any] = [naive_utc(since)]
        if projects:
            history += f" AND h.project IN ({', '.join('?' for _ in projects)})"
            history_params.extend(projects)
        sql = (
            "WITH seen AS (SELECT DISTINCT h.project, h.user_id FROM events h "
            f"WHERE {history}), "
            "scoped AS (SELECT e.*, s.user_id IS NULL AS is_new FROM events e "
            "LEFT JOIN seen s ON s.project = e.project AND s.user_id = e.user_id "
            f"WHERE {where} AND e.user_id IS NOT NULL) "
        )
        return sql, [*history_params, *params]

    def cohort_aggregate(
        self,
        scope: Scope,
        since: datetime,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
    ) -> list[AggRow]:
        """Catalog metrics (aggregates and exact percentiles) per cohort and group, in one scan
        from raw calls: each row's group is (cohort: "new" or "returning", *group_by values)."""
        cte, params = self._cohort_sql(scope, since)
        keys = [("cohort", "CASE WHEN is_new THEN 'new' ELSE 'returning' END")]
        keys += [(f"g{i}", dimension_sql(d)) for i, d in enumerate(group_by)]
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        quantiles = [m for m in metrics if m.kind is Kind.QUANTILE]
        if len(derived) + len(quantiles) != len(metrics):
            raise ValueError("cohorts take aggregate and percentile metrics only")
        aggs = base_aggregates(derived)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"{agg_sql(a)} AS a{i}" for i, a in enumerate(aggs)]
        select += [
            f"quantile_cont({value_sql(m.column)}, {m.q!r}) AS q{i}"
            for i, m in enumerate(quantiles)
        ]
        sql = (
            f"{cte}SELECT {', '.join(select)} FROM scoped "
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
        cte, params = self._cohort_sql(scope, since)
        select = ", ".join(f"CAST({value_sql(c)} AS DOUBLE) AS {c}" for c in columns)
        sql = f"{cte}SELECT {select} FROM scoped WHERE is_new = ?"
        with self._cursor() as cur:
            result = cur.execute(sql, [*params, new]).fetchnumpy()
        return {c: floats(result[c]) for c in columns}
