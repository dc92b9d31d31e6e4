"""Custom metrics' terms, the ClickHouse way (a mixin of ClickStore): per-call numbers (a condition
on a call column, a column, scores of a name joined on the call) summed per group, or read per
call for statistics. Columns come from the schema's whitelist (`model.formula`), every value is
a server-side bound parameter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from promptpulse.model import AggRow, Dimension, Scope, Term, check_term
from promptpulse.store.click.sql import EVENTS, SCORES, Params, Record, floats, py, where_clause

SQL_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _bind(params: Params, term: Term) -> str:
    if isinstance(term.value, bool):
        return params.add(term.value, "Bool")
    if isinstance(term.value, (int, float)):
        return params.add(float(term.value), "Float64")
    return params.text(str(term.value))


def term_sql(terms: Sequence[Term], scope: Scope, params: Params) -> tuple[list[str], str]:
    """Per-call expressions of the terms, and the join of the scores they read."""
    exprs: list[str] = []
    scored: list[str] = []
    for t in terms:
        check_term(t)
        if t.kind == "calls":
            exprs.append("1.0")
        elif t.kind == "where":
            exprs.append(f"toFloat64(ifNull({t.column} {SQL_OPS[t.op]} {_bind(params, t)}, 0))")
        elif t.kind == "sum":
            exprs.append(f"ifNull(toFloat64({t.column}), 0.0)")
        else:
            i = len(scored)
            name = params.text(t.column)
            if t.kind == "score_sum":
                scored.append(f"sumIf(value, name = {name}) AS s{i}")
            elif t.op:
                cond = f"value {SQL_OPS[t.op]} {_bind(params, t)}"
                scored.append(f"countIf(name = {name} AND {cond}) AS s{i}")
            else:
                scored.append(f"countIf(name = {name}) AS s{i}")
            exprs.append(f"ifNull(toFloat64(s.s{i}), 0.0)")
    if not scored:
        return exprs, ""
    where = f"name IN {params.texts(sorted({t.column for t in terms if t.score}))}"
    projects = scope.filter_values("project")
    if projects is not None:
        where += f" AND project IN {params.texts(projects)}"
    join = (
        f" LEFT JOIN (SELECT project AS s_project, event_id AS s_event, {', '.join(scored)} "
        f"FROM {SCORES} WHERE {where} GROUP BY s_project, s_event) AS s "
        "ON events.project = s.s_project AND events.id = s.s_event"
    )
    return exprs, join


class TermsMixin:
    _records: Callable[[str, Params | None], list[Record]]
    _arrow: Callable[[str, Params | None], pa.Table]

    def term_aggregate(
        self,
        scope: Scope,
        terms: Sequence[Term],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
    ) -> list[AggRow]:
        """Each term summed over the calls of each group (and bucket), by its key; always from
        raw calls (conditions are not in rollups)."""
        from promptpulse.store.click.store import group_keys, row_of  # one definition of keys

        keys = group_keys(group_by, interval)
        params = Params()
        exprs, join = term_sql(terms, scope, params)
        where = where_clause(scope, params)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"sum({e}) AS v{i}" for i, e in enumerate(exprs)]
        group = " GROUP BY " + ", ".join(alias for alias, _ in keys) if keys else ""
        sql = f"SELECT {', '.join(select)} FROM {EVENTS}{join} WHERE {where}{group}"
        rows = []
        for record in self._records(sql, params):
            values: dict[str, Any] = {t.key: py(record[f"v{i}"]) or 0 for i, t in enumerate(terms)}
            rows.append(row_of(record, len(group_by), values))
        return rows

    def term_columns(self, scope: Scope, terms: Sequence[Term]) -> dict[str, np.ndarray]:
        """Each term's value per call in scope, row-aligned: for statistics (callers bound the
        scope; this is not for dashboards)."""
        params = Params()
        exprs, join = term_sql(terms, scope, params)
        where = where_clause(scope, params)
        select = ", ".join(f"{e} AS v{i}" for i, e in enumerate(exprs))
        result = self._arrow(f"SELECT {select} FROM {EVENTS}{join} WHERE {where}", params)
        return {t.key: floats(result[f"v{i}"]) for i, t in enumerate(terms)}
