"""Active users and first-seen retention, the ClickHouse way (a mixin of ClickStore).
Definitions and the interval trick for sliding distinct counts are in `store/users.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from promptpulse.model import RetentionRow, Scope, UserActivityRow
from promptpulse.store.click.sql import EVENTS, Params, Record, filter_clause
from promptpulse.store.users import (
    RETENTION_DAYS,
    WINDOWS,
    assemble_activity,
    assemble_retention,
    bucket_days,
    check_days,
    day_of,
    midnight,
    window_start,
)


class UsersMixin:
    _records: Callable[..., list[Record]]

    @staticmethod
    def _user_days(scope: Scope, params: Params, since: date, before: date) -> tuple[str, str]:
        """Two subqueries over the calls that match the filters and have a user: one row per
        (project, user_id, UTC day) in [since, end of range), and the users with a call before
        `before` (all stored history: first-seen needs it, but only which users). The user is
        `uid`: an alias `user_id` would shadow the column in WHERE (ClickHouse resolves aliases
        there), and `user_id IS NOT NULL` would test the assumeNotNull."""
        filters = filter_clause(scope, params)
        ud = (
            "(SELECT DISTINCT project, assumeNotNull(user_id) AS uid, toDate(timestamp) AS d "
            f"FROM {EVENTS} WHERE timestamp >= {params.time(midnight(since))} "
            f"AND timestamp < {params.time(scope.end)} AND user_id IS NOT NULL AND {filters})"
        )
        seen = (
            f"(SELECT DISTINCT project, assumeNotNull(user_id) FROM {EVENTS} "
            f"WHERE timestamp < {params.time(midnight(before))} AND user_id IS NOT NULL "
            f"AND {filter_clause(scope, params)})"
        )
        return ud, seen

    def user_activity(self, scope: Scope, interval: str = "day") -> list[UserActivityRow]:
        """Active, new, DAU, WAU and MAU per UTC day or ISO week of the range (see
        `store/users.py`): per-day counts over the distinct user-days of the windows."""
        first = bucket_days(scope, interval)[0][0]
        params = Params()
        ud, seen = self._user_days(scope, params, window_start(scope, interval), first)
        start = params.add(first, "Date")
        # The next active day of the same user; the last day has none (leadInFrame's default,
        # 1970-01-01, is never after d).
        r = (
            "(SELECT d, leadInFrame(d) OVER (PARTITION BY project, uid ORDER BY d "
            f"ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS nd FROM {ud})"
        )
        windows = params.add(list(WINDOWS), "Array(UInt16)")
        bucket = "d" if interval == "day" else "toMonday(d)"
        first_bucket = "first" if interval == "day" else "toMonday(first)"
        sql = (
            f"SELECT 'start' AS kind, 0 AS w, d AS day, count() AS n FROM {r} GROUP BY d "
            "UNION ALL SELECT 'end' AS kind, w, if(nd > d, least(nd, d + w), d + w) AS day, "
            f"count() AS n FROM {r} ARRAY JOIN {windows} AS w GROUP BY w, day "
            f"UNION ALL SELECT 'active' AS kind, 0 AS w, {bucket} AS day, "
            f"uniqExact(project, uid) AS n FROM {ud} WHERE d >= {start} GROUP BY day "
            f"UNION ALL SELECT 'new' AS kind, 0 AS w, {first_bucket} AS day, count() AS n FROM "
            f"(SELECT project, uid, min(d) AS first FROM {ud} WHERE d >= {start} "
            f"GROUP BY project, uid) WHERE (project, uid) NOT IN {seen} GROUP BY day"
        )
        rows = self._records(sql, params)
        return assemble_activity(
            scope,
            interval,
            [(r["day"], r["n"]) for r in rows if r["kind"] == "start"],
            [(r["w"], r["day"], r["n"]) for r in rows if r["kind"] == "end"],
            {r["day"]: r["n"] for r in rows if r["kind"] == "active"},
            {r["day"]: r["n"] for r in rows if r["kind"] == "new"},
        )

    def user_retention(
        self, scope: Scope, days: Sequence[int] = RETENTION_DAYS
    ) -> list[RetentionRow]:
        """Per first-seen cohort (UTC day, in the range): its users and how many had a call on
        day cohort + k, for each k of `days`."""
        ks = check_days(days)
        first = day_of(scope.start)
        params = Params()
        ud, seen = self._user_days(scope, params, first, first)
        counts = ", ".join(f"countIf(d = first + {k}) AS r{i}" for i, k in enumerate(ks))
        cohorts = (
            f"(SELECT project, uid, min(d) AS first FROM {ud} GROUP BY project, uid "
            f"HAVING (project, uid) NOT IN {seen})"
        )
        sql = (
            f"SELECT first AS cohort, countIf(d = first) AS users, {counts} "
            f"FROM {cohorts} AS c INNER JOIN {ud} AS u USING (project, uid) GROUP BY first"
        )
        rows = self._records(sql, params)
        return assemble_retention(
            scope,
            ks,
            [(r["cohort"], r["users"], [r[f"r{i}"] for i in range(len(ks))]) for r in rows],
        )
