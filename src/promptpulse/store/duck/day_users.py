"""The users of each (project, UTC day) kept in memory: exact active users of a range filtered
on the project only, without a `count(DISTINCT user_id)` over every call of the range.

Each user id gets a small integer code once; a day keeps the sorted codes of its users. The
active users of a range are the distinct codes of its whole days, joined with the users of the
cut days at either end, which come from the calls: the answer is exact (no hashing, no sketch).
Memory is bounded by the distinct users, not the calls: past `MAX_USERS` the summary gives up
and the calls are counted as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import Scope
from promptpulse.store.duck.histograms import DAY_NUMBER_SQL, DAY_US, day_number
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.sql import where_clause
from promptpulse.store.rollup_plan import ceil_to, floor_to

# Past this many distinct users (~120 bytes each kept) the calls are counted instead.
MAX_USERS = 200_000
# project -> UTC day number -> user ids seen that day (one commit's part)
Batch = dict[str, dict[int, np.ndarray]]


@dataclass
class KeptUsers:
    codes: dict[str, int] = field(default_factory=dict)
    # project -> UTC day -> sorted codes of that day's users (parts merged when read)
    days: dict[str, dict[int, list[np.ndarray]]] = field(default_factory=dict)
    too_many: bool = False

    def add(self, project: str, day: int, users: Sequence[str]) -> None:
        if self.too_many:
            return
        codes = self.codes
        for user in users:
            if user not in codes:
                codes[user] = len(codes)
        if len(codes) > MAX_USERS:
            self.give_up()
            return
        day_codes = np.unique(np.fromiter((codes[u] for u in users), np.int64, len(users)))
        self.days.setdefault(project, {}).setdefault(day, []).append(day_codes)

    def give_up(self) -> None:
        self.too_many = True
        self.codes, self.days = {}, {}

    def count(
        self, projects: tuple[str, ...] | None, first: int, stop: int, edge_users: list[str]
    ) -> int | None:
        """Distinct users of the whole days [first, stop) and of `edge_users`."""
        if self.too_many:
            return None
        parts = []
        for project, days in self.days.items():
            if projects is not None and project not in projects:
                continue
            for day in range(first, stop):
                found = days.get(day)
                if found:
                    if len(found) > 1:  # commits since the last read: merge them for good
                        found[:] = [np.unique(np.concatenate(found))]
                    parts.append(found[0])
        known = [self.codes[u] for u in edge_users if u in self.codes]
        unknown = len({u for u in edge_users if u not in self.codes})  # stored since the fold
        parts.append(np.asarray(known, np.int64))
        return len(np.unique(np.concatenate(parts))) + unknown


class DayUsers(KeptSummary[KeptUsers, Batch]):
    """User ids per (project, UTC day)."""

    columns = ("project", "timestamp", "user_id")

    def summarise(self, calls: pa.Table) -> Batch:
        calls = calls.filter(pc.is_valid(calls["user_id"]))
        stamps = pc.cast(calls["timestamp"], pa.timestamp("us")).cast(pa.int64())
        days = np.asarray(stamps, dtype=np.int64) // DAY_US
        projects = np.asarray(calls["project"].to_pylist(), dtype=object)
        users = np.asarray(calls["user_id"].to_pylist(), dtype=object)
        out: Batch = {}
        for project in set(projects.tolist()):
            mine = projects == project
            for day in np.unique(days[mine]):
                out.setdefault(project, {})[int(day)] = np.unique(users[mine & (days == day)])
        return out

    def fold(self, into: KeptUsers, batch: Batch) -> None:
        for project, days in batch.items():
            for day, users in days.items():
                into.add(project, day, users.tolist())


class DayUsersMixin:
    _with_cursor: Callable[..., Any]
    _day_users: DayUsers

    def _kept_active_users(self, scope: Scope) -> int | None:
        """Exact active users of a range filtered on the project only that holds a whole UTC
        day (None otherwise, or when there are too many users to keep)."""
        if any(f.dimension != "project" for f in scope.filters):
            return None
        first, stop = ceil_to(scope.start, "day"), floor_to(scope.end, "day")
        if first >= stop:
            return None
        edge_users: list[str] = []
        for cut_start, cut_end in ((scope.start, first), (stop, scope.end)):
            if cut_start < cut_end:
                where, params = where_clause(Scope(cut_start, cut_end, scope.filters))
                edge_users += self._with_cursor(_users_in, where, params)
        projects = scope.filter_values("project")
        lo, hi = day_number(first), day_number(stop)
        return self._day_users.read(  # type: ignore[no-any-return]
            self._scan_day_users, lambda kept: kept.count(projects, lo, hi, edge_users)
        )

    def _scan_day_users(self) -> KeptUsers:
        return self._with_cursor(_scan)  # type: ignore[no-any-return]


def _users_in(cur: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[str]:
    rows = cur.execute(
        f"SELECT DISTINCT user_id FROM events WHERE {where} AND user_id IS NOT NULL", params
    ).fetchall()
    return [r[0] for r in rows]


def _scan(cur: duckdb.DuckDBPyConnection) -> KeptUsers:
    kept = KeptUsers()
    row = cur.execute("SELECT count(DISTINCT user_id) FROM events").fetchone()
    if row is not None and int(row[0]) > MAX_USERS:
        kept.give_up()
        return kept
    found = cur.execute(
        f"SELECT project, {DAY_NUMBER_SQL} AS d, list(DISTINCT user_id) AS users FROM events "
        "WHERE user_id IS NOT NULL GROUP BY ALL"
    ).fetchall()
    for project, day, users in found:
        kept.add(str(project), int(day), users)
    return kept
