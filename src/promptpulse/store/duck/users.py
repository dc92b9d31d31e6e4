"""Active users and first-seen retention, the DuckDB way (a mixin of DuckStore). Definitions and
the interval trick for sliding distinct counts are in `store/users.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from promptpulse.model import RetentionRow, Scope, UserActivityRow
from promptpulse.store.duck.sql import Record, filter_clause, naive_utc
from promptpulse.store.users import (
    RETENTION_DAYS,
    WINDOWS,
    activity_from_rows,
    assemble_retention,
    bucket_days,
    check_days,
    day_of,
    midnight,
    window_start,
)


class UsersMixin:
    _records: Callable[[str, Sequence[Any]], list[Record]]

    @staticmethod
    def _user_days(scope: Scope, since: date, before: date) -> tuple[str, list[Any]]:
        """CTEs over the calls that match the filters and have a user: `ud`, one row per
        (project, user_id, UTC day) in [since, end of range); `seen`, the users with a call
        before `before` (all stored history: first-seen needs it, but only which users)."""
        filters, params = filter_clause(scope)
        where = f"user_id IS NOT NULL AND {filters}"
        sql = (
            "WITH ud AS MATERIALIZED (SELECT DISTINCT project, user_id, "
            "CAST(timestamp AS DATE) AS d FROM events "
            f"WHERE timestamp >= ? AND timestamp < ? AND {where}), "
            "seen AS (SELECT DISTINCT project, user_id FROM events "
            f"WHERE timestamp < ? AND {where}) "
        )
        start, end = naive_utc(midnight(since)), naive_utc(scope.end)
        return sql, [start, end, *params, naive_utc(midnight(before)), *params]

    def user_activity(self, scope: Scope, interval: str = "day") -> list[UserActivityRow]:
        """Active, new, DAU, WAU and MAU per UTC day or ISO week of the range (see
        `store/users.py`), in one query over the distinct user-days of the windows."""
        first = bucket_days(scope, interval)[0][0]
        cte, params = self._user_days(scope, window_start(scope, interval), first)
        windows = ", ".join(f"({w})" for w in WINDOWS)
        # A day's users are its rows (ud is distinct); a week's need their own distinct.
        active = (
            "SELECT d AS b FROM ud WHERE d >= ?"
            if interval == "day"
            else f"SELECT DISTINCT project, user_id, {_bucket('d', interval)} AS b FROM ud "
            "WHERE d >= ?"
        )
        sql = (
            f"{cte}, f AS (SELECT project, user_id, min(d) AS first FROM ud WHERE d >= ? "
            "GROUP BY ALL), "
            "r AS (SELECT d, lead(d) OVER (PARTITION BY project, user_id ORDER BY d) AS nd "
            "FROM ud), "
            f"w(w) AS (VALUES {windows}) "
            "SELECT 'start' AS kind, 0 AS w, d AS day, count(*) AS n FROM r GROUP BY d "
            "UNION ALL SELECT 'end', w.w, least(d + w.w, coalesce(nd, d + w.w)), count(*) "
            "FROM r, w GROUP BY ALL "
            f"UNION ALL SELECT 'active', 0, b, count(*) FROM ({active}) GROUP BY b "
            f"UNION ALL SELECT 'new', 0, {_bucket('first', interval)}, count(*) "
            "FROM f ANTI JOIN seen USING (project, user_id) GROUP BY ALL"
        )
        rows = self._records(sql, [*params, first, first])
        return activity_from_rows(scope, interval, rows)

    def user_retention(
        self, scope: Scope, days: Sequence[int] = RETENTION_DAYS
    ) -> list[RetentionRow]:
        """Per first-seen cohort (UTC day, in the range): its users and how many had a call on
        day cohort + k, for each k of `days`."""
        ks = check_days(days)
        first = day_of(scope.start)
        cte, params = self._user_days(scope, first, first)
        counts = ", ".join(f"count_if(d = first + {k}) AS r{i}" for i, k in enumerate(ks))
        sql = (
            f"{cte}, c AS (SELECT project, user_id, min(d) AS first FROM ud GROUP BY ALL) "
            f"SELECT first AS cohort, count_if(d = first) AS users, {counts} "
            "FROM (c ANTI JOIN seen USING (project, user_id)) JOIN ud USING (project, user_id) "
            "GROUP BY first"
        )
        rows = self._records(sql, params)
        return assemble_retention(
            scope,
            ks,
            [(r["cohort"], r["users"], [r[f"r{i}"] for i in range(len(ks))]) for r in rows],
        )


def _bucket(column: str, interval: str) -> str:
    """A DATE column's UTC bucket: the day, or the Monday of its ISO week."""
    return column if interval == "day" else f"CAST(date_trunc('week', {column}) AS DATE)"
