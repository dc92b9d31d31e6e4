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
    activity_from_rows,
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
    def _user_days(scope: Scope, params: Params, since: date, before: date) -> str:
        """A subquery over the calls that match the filters and have a user: per user
        (project, user_id), `ds`, their UTC days with a call in [since, end of range), sorted,
        and `fresh`, whether they had no call before `before` (all stored history: first-seen
        needs it, but only which users). One scan for the days, one for the history."""
        where = f"user_id IS NOT NULL AND {filter_clause(scope, params)}"
        seen = (
            f"SELECT DISTINCT project, assumeNotNull(user_id) FROM {EVENTS} "
            f"WHERE timestamp < {params.time(midnight(before))} AND {where}"
        )
        return (
            "(SELECT arraySort(groupUniqArray(toDate(timestamp))) AS ds, "
            f"(project, assumeNotNull(user_id)) NOT IN ({seen}) AS fresh FROM {EVENTS} "
            f"WHERE timestamp >= {params.time(midnight(since))} "
            f"AND timestamp < {params.time(scope.end)} AND {where} "
            "GROUP BY project, assumeNotNull(user_id))"
        )

    def user_activity(self, scope: Scope, interval: str = "day") -> list[UserActivityRow]:
        """Active, new, DAU, WAU and MAU per UTC day or ISO week of the range (see
        `store/users.py`): each user's sorted days become (kind, window, day) items, counted."""
        first = bucket_days(scope, interval)[0][0]
        params = Params()
        users = self._user_days(scope, params, window_start(scope, interval), first)
        start = params.add(first, "Date")
        windows = params.add(list(WINDOWS), "Array(UInt16)")
        bucket = "x" if interval == "day" else "toMonday(x)"
        # nds: each day's next active day of the user (1970-01-01 after the last: never later)
        items = (
            "arrayConcat("
            "arrayMap(x -> ('start', 0, x), ds), "
            "arrayFlatten(arrayMap(w -> arrayMap((x, nx) -> "
            f"('end', w, if(nx > x, least(nx, x + w), x + w)), ds, nds), {windows})), "
            f"arrayMap(x -> ('active', 0, x), arrayDistinct(arrayMap(x -> {bucket}, "
            f"arrayFilter(x -> x >= {start}, ds)))), "
            f"if(fresh AND notEmpty(ds) AND ds[1] >= {start}, "
            f"[('new', 0, arrayMap(x -> {bucket}, [ds[1]])[1])], []))"
        )
        sql = (
            "SELECT item.1 AS kind, item.2 AS w, item.3 AS day, count() AS n FROM "
            f"(SELECT ds, fresh, arrayPushBack(arrayPopFront(ds), toDate(0)) AS nds FROM {users}) "
            f"ARRAY JOIN {items} AS item GROUP BY kind, w, day"
        )
        rows = self._records(sql, params)
        return activity_from_rows(scope, interval, rows)

    def user_retention(
        self, scope: Scope, days: Sequence[int] = RETENTION_DAYS
    ) -> list[RetentionRow]:
        """Per first-seen cohort (UTC day, in the range): its users and how many had a call on
        day cohort + k, for each k of `days`."""
        ks = check_days(days)
        first = day_of(scope.start)
        params = Params()
        users = self._user_days(scope, params, first, first)
        counts = ", ".join(f"countIf(has(ds, ds[1] + {k})) AS r{i}" for i, k in enumerate(ks))
        sql = (
            f"SELECT ds[1] AS cohort, count() AS users, {counts} FROM {users} "
            "WHERE fresh GROUP BY cohort"
        )
        rows = self._records(sql, params)
        return assemble_retention(
            scope,
            ks,
            [(r["cohort"], r["users"], [r[f"r{i}"] for i in range(len(ks))]) for r in rows],
        )
