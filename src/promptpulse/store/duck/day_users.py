"""The users of each (project, UTC day) kept in memory: exact active users of a range filtered
on the project only, without a `count(DISTINCT user_id)` over every call of the range.

Each user id gets a small integer code once; a day keeps the sorted codes of its users. The
active users of a range are the distinct codes of its whole days, joined with the users of the
cut days at either end, which come from the calls: the answer is exact (no hashing, no sketch).
Memory is bounded by the distinct users, not the calls: past `MAX_USERS` the summary gives up
and the calls are counted as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import Scope
from promptpulse.store.duck.histograms import (
    DAY_NUMBER_SQL,
    DAY_US,
    day_span,
    unit_number,
    unit_start,
)
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.sql import where_clause

# Past this many distinct users (~150 bytes each in the codes, 4 per day seen) the calls are
# counted instead.
MAX_USERS = 200_000


@dataclass
class Batch:
    """One commit's calls with a user: their UTC days, and their projects and users as indices
    into the distinct names (Arrow's dictionary encoding: no Python object per call)."""

    days: np.ndarray
    project_index: np.ndarray
    projects: list[str]
    user_index: np.ndarray
    users: list[str]


@dataclass
class KeptUsers:
    codes: dict[str, int] = field(default_factory=dict)
    # project -> UTC day -> sorted codes of that day's users (parts merged when read)
    days: dict[str, dict[int, list[np.ndarray]]] = field(default_factory=dict)
    too_many: bool = False

    def code_all(self, users: Sequence[str]) -> np.ndarray | None:
        """The code of each user (new users get the next ones); None past MAX_USERS."""
        if self.too_many:
            return None
        codes = self.codes
        for user in users:
            if user not in codes:
                codes[user] = len(codes)
        if len(codes) > MAX_USERS:
            self.too_many = True
            self.codes, self.days = {}, {}
            return None
        return np.fromiter((codes[u] for u in users), np.int32, len(users))

    def add(self, project: str, day: int, codes: np.ndarray) -> None:
        self.days.setdefault(project, {}).setdefault(day, []).append(np.unique(codes))

    def _day_codes(
        self, projects: tuple[str, ...] | None, first: int, stop: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(day, sorted codes of its users) of each project's whole days in [first, stop)."""
        for project, days in self.days.items():
            if projects is not None and project not in projects:
                continue
            for day in range(first, stop):
                found = days.get(day)
                if found:
                    if len(found) > 1:  # commits since the last read: merge them for good
                        found[:] = [np.unique(np.concatenate(found))]
                    yield day, found[0]

    def count(
        self, projects: tuple[str, ...] | None, first: int, stop: int, edge_users: list[str]
    ) -> int | None:
        """Distinct users of the whole days [first, stop) and of `edge_users`."""
        if self.too_many:
            return None
        parts = [codes for _, codes in self._day_codes(projects, first, stop)]
        known = [self.codes[u] for u in edge_users if u in self.codes]
        unknown = len({u for u in edge_users if u not in self.codes})  # stored since the fold
        parts.append(np.asarray(known, np.int32))
        return len(np.unique(np.concatenate(parts))) + unknown

    def count_by_day(
        self, projects: tuple[str, ...] | None, first: int, stop: int
    ) -> dict[int, int] | None:
        """Distinct users of each whole day in [first, stop) that has any (across `projects`)."""
        if self.too_many:
            return None
        per_day: dict[int, list[np.ndarray]] = {}
        for day, codes in self._day_codes(projects, first, stop):
            per_day.setdefault(day, []).append(codes)
        return {
            day: len(parts[0]) if len(parts) == 1 else len(np.unique(np.concatenate(parts)))
            for day, parts in per_day.items()
        }


class DayUsers(KeptSummary[KeptUsers, Batch]):
    """User ids per (project, UTC day)."""

    columns = ("project", "timestamp", "user_id")

    def summarise(self, calls: pa.Table) -> Batch:
        calls = calls.filter(pc.is_valid(calls["user_id"]))
        stamps = pc.cast(calls["timestamp"], pa.timestamp("us")).cast(pa.int64())
        projects = pc.dictionary_encode(calls["project"]).combine_chunks()
        users = pc.dictionary_encode(calls["user_id"]).combine_chunks()
        return Batch(
            np.asarray(stamps, dtype=np.int64) // DAY_US,
            np.asarray(projects.indices, dtype=np.int64),
            projects.dictionary.to_pylist(),
            np.asarray(users.indices, dtype=np.int64),
            users.dictionary.to_pylist(),
        )

    def fold(self, into: KeptUsers, batch: Batch) -> None:
        codes = into.code_all(batch.users)
        if codes is None:
            return
        row_codes = codes[batch.user_index]
        for i, project in enumerate(batch.projects):
            mine = batch.project_index == i
            for day in np.unique(batch.days[mine]):
                into.add(project, int(day), row_codes[mine & (batch.days == day)])


class DayUsersMixin:
    _with_cursor: Callable[..., Any]
    _day_users: DayUsers

    def _kept_active_users(self, scope: Scope) -> int | None:
        """Exact active users of a range filtered on the project only that holds a whole UTC
        day (None otherwise, or when there are too many users to keep)."""
        span = day_span(scope)
        if span is None:
            return None
        # Too many users: say so before reading the cut days' users for nothing.
        if self._day_users.read(self._scan_day_users, lambda kept: kept.too_many):
            return None
        edge_users: list[str] = []
        for cut in span.cuts:
            where, params = where_clause(cut)
            edge_users += self._with_cursor(_users_in, where, params)
        projects = scope.filter_values("project")
        return self._day_users.read(  # type: ignore[no-any-return]
            self._scan_day_users,
            lambda kept: kept.count(projects, span.first, span.stop, edge_users),
        )

    def _kept_users_by_day(self, scope: Scope) -> dict[datetime, int] | None:
        """Exact active users per UTC day of a range filtered on the project only that holds a
        whole day (None otherwise, or past MAX_USERS): whole days from the kept users, the cut
        days at either end counted from the calls. Days with no user are absent."""
        span = day_span(scope)
        if span is None or self._day_users.read(self._scan_day_users, lambda k: k.too_many):
            return None
        projects = scope.filter_values("project")
        by_number = self._day_users.read(
            self._scan_day_users, lambda kept: kept.count_by_day(projects, span.first, span.stop)
        )
        if by_number is None:  # too many users since the check
            return None
        out = {unit_start(day): n for day, n in by_number.items()}
        for cut in span.cuts:
            where, params = where_clause(cut)
            users = len(self._with_cursor(_users_in, where, params))
            if users:
                out[unit_start(unit_number(cut.start))] = users
        return out

    def _scan_day_users(self) -> KeptUsers:
        return self._with_cursor(_scan)  # type: ignore[no-any-return]


def _users_in(cur: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[str]:
    rows = cur.execute(
        f"SELECT DISTINCT user_id FROM events WHERE {where} AND user_id IS NOT NULL", params
    ).fetchall()
    return [r[0] for r in rows]


def _scan(cur: duckdb.DuckDBPyConnection) -> KeptUsers:
    kept = KeptUsers()
    # Counted first, so that an app with millions of users never lists them per day.
    row = cur.execute("SELECT count(DISTINCT user_id) FROM events").fetchone()
    if row is not None and int(row[0]) > MAX_USERS:
        kept.too_many = True
        return kept
    found = cur.execute(
        f"SELECT project, {DAY_NUMBER_SQL} AS d, list(DISTINCT user_id) AS users FROM events "
        "WHERE user_id IS NOT NULL GROUP BY ALL"
    ).fetchall()
    for project, day, users in found:
        codes = kept.code_all(users)
        if codes is None:  # users arrived since the count
            break
        kept.add(str(project), int(day), codes)
    return kept
