"""Active users and first-seen retention, the ClickHouse way (a mixin of ClickStore).
Definitions and the interval trick for sliding distinct counts are in `store/users.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    window_start,
)


class UsersMixin:
    _records: Callable[..., list[Record]]

    @staticmethod
    def _user_days(scope: Scope, params: Params) -> str:
        """A subquery: one row per (project, user_id, UTC day) with a call that matches the
        filters, before the range ends (all stored history: first-seen needs it). The user is `uid`:
        an alias `user_id` would shadow the column in WHERE (ClickHouse resolves aliases
        there), and `user_id IS NOT NULL` would test the assumeNotNull."""
        filters = filter_clause(scope, params)
        return (
            "(SELECT DISTINCT project, assumeNotNull(user_id) AS uid, toDate(timestamp) AS d "
            f"FROM {EVENTS} WHERE timestamp < {params.time(scope.end)} "
            f"AND user_id IS NOT NULL AND {filters})"
        )

    def user_activity(self, scope: Scope, interval: str = "day") -> list[UserActivityRow]:
        """Active, new, DAU, WAU and MAU per UTC day or ISO week of the range (see
        `store/users.py`): per-day counts in four small queries over the distinct user-days."""
        first = bucket_days(scope, interval)[0][0]
        params = Params()
        ud = self._user_days(scope, params)
        since = params.add(window_start(scope, interval), "Date")
        start = params.add(first, "Date")
        # The next active day of the same user; the last day has none (leadInFrame's default,
        # 1970-01-01, is never after d).
        r = (
            "(SELECT d, leadInFrame(d) OVER (PARTITION BY project, uid ORDER BY d "
            f"ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS nd FROM {ud} WHERE d >= {since})"
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
            f"(SELECT min(d) AS first FROM {ud} GROUP BY project, uid) "
            f"WHERE first >= {start} GROUP BY day"
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
        params = Params()
        ud = self._user_days(scope, params)
        start = params.add(day_of(scope.start), "Date")
        counts = ", ".join(f"countIf(d = first + {k}) AS r{i}" for i, k in enumerate(ks))
        sql = (
            f"SELECT first AS cohort, countIf(d = first) AS users, {counts} FROM "
            f"(SELECT d, min(d) OVER (PARTITION BY project, uid) AS first FROM {ud}) "
            f"WHERE first >= {start} GROUP BY first"
        )
        rows = self._records(sql, params)
        return assemble_retention(
            scope,
            ks,
            [(r["cohort"], r["users"], [r[f"r{i}"] for i in range(len(ks))]) for r in rows],
        )
