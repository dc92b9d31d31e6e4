"""Custom metrics' terms, the DuckDB way (a mixin of DuckStore): per-call numbers (a condition on a
call column, a column, scores of a name joined on the call) summed per group, or read per call
for statistics. Columns come from the schema's whitelist (`model.formula`), every value is a
bound parameter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import duckdb
import numpy as np

from promptpulse.model import AggRow, Dimension, Scope, Term, check_term
from promptpulse.store.duck.sql import Record, floats, py, where_clause

SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _value(term: Term) -> Any:
    return (
        float(term.value)
        if isinstance(term.value, (int, float)) and not isinstance(term.value, bool)
        else term.value
    )


def term_sql(terms: Sequence[Term], scope: Scope) -> tuple[list[str], list[Any], str, list[Any]]:
    """Per-call expressions of the terms (and their parameters), and the join of the scores
    they read (and its parameters)."""
    exprs: list[str] = []
    params: list[Any] = []
    scored: list[str] = []
    join_params: list[Any] = []
    for t in terms:
        check_term(t)
        if t.kind == "calls":
            exprs.append("1.0")
        elif t.kind == "where":
            exprs.append(f"CAST(coalesce({t.column} {SQL_OPS[t.op]} ?, false) AS DOUBLE)")
            params.append(_value(t))
        elif t.kind == "sum":
            exprs.append(f"coalesce(CAST({t.column} AS DOUBLE), 0.0)")
        else:
            i = len(scored)
            if t.kind == "score_sum":
                scored.append(f"sum(value) FILTER (WHERE name = ?) AS s{i}")
                join_params.append(t.column)
            elif t.op:
                scored.append(
                    f"count(*) FILTER (WHERE name = ? AND value {SQL_OPS[t.op]} ?) AS s{i}"
                )
                join_params.extend([t.column, _value(t)])
            else:
                scored.append(f"count(*) FILTER (WHERE name = ?) AS s{i}")
                join_params.append(t.column)
            exprs.append(f"coalesce(CAST(s.s{i} AS DOUBLE), 0.0)")
    if not scored:
        return exprs, params, "", []
    names = sorted({t.column for t in terms if t.score})
    where = f"name IN ({', '.join('?' for _ in names)})"
    join_params.extend(names)
    projects = scope.filter_values("project")
    if projects is not None:
        where += f" AND project IN ({', '.join('?' for _ in projects)})"
        join_params.extend(projects)
    join = (
        f" LEFT JOIN (SELECT project AS s_project, event_id AS s_event, {', '.join(scored)} "
        f"FROM scores WHERE {where} GROUP BY ALL) s "
        "ON events.project = s.s_project AND events.id = s.s_event"
    )
    return exprs, params, join, join_params


class TermsMixin:
    _cursor: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
    _records: Callable[[str, Sequence[Any]], list[Record]]

    def term_aggregate(
        self,
        scope: Scope,
        terms: Sequence[Term],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
    ) -> list[AggRow]:
        """Each term summed over the calls of each group (and bucket), by its key; always from
        raw calls (conditions are not in rollups)."""
        from promptpulse.store.duck.store import group_keys, row_of  # one definition of keys
        from promptpulse.store.duck.time_keys import group_by_sql

        keys = group_keys(group_by, interval)
        exprs, params, join, join_params = term_sql(terms, scope)
        where, where_params = where_clause(scope)
        select = [f"{expr} AS {alias}" for alias, expr in keys]
        select += [f"sum({e}) AS v{i}" for i, e in enumerate(exprs)]
        group = group_by_sql(keys)
        sql = f"SELECT {', '.join(select)} FROM events{join} WHERE {where}{group}"
        rows = []
        for record in self._records(sql, [*params, *join_params, *where_params]):
            values = {t.key: py(record[f"v{i}"]) or 0 for i, t in enumerate(terms)}
            rows.append(row_of(record, len(group_by), values))
        return rows

    def term_columns(self, scope: Scope, terms: Sequence[Term]) -> dict[str, np.ndarray]:
        """Each term's value per call in scope, row-aligned: for statistics (callers bound the
        scope; this is not for dashboards)."""
        exprs, params, join, join_params = term_sql(terms, scope)
        where, where_params = where_clause(scope)
        select = ", ".join(f"{e} AS v{i}" for i, e in enumerate(exprs))
        sql = f"SELECT {select} FROM events{join} WHERE {where}"
        with self._cursor() as cur:
            result = cur.execute(sql, [*params, *join_params, *where_params]).fetchnumpy()
        return {t.key: floats(result[f"v{i}"]) for i, t in enumerate(terms)}
