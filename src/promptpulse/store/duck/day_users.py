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
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import INTERVALS, Agg, Op, Scope
from promptpulse.store.duck.histograms import (
    DAY_NUMBER_SQL,
    DAY_US,
    day_span,
    unit_number,
    unit_start,
)
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.sql import Record, agg_sql, records, where_clause
from promptpulse.store.duck.time_keys import grouped_bucket, time_key

# Past this many distinct users (~150 bytes each in the codes, 4 per day seen) the calls are
# counted instead.
MAX_USERS = 200_000
# The bitmaps of a series' distinct users hold a bit per kept user per bucket: at most 64 MB.
MAX_BITMAP_BITS = 2**29
SHORTEST_MONTH = timedelta(days=28)  # the most buckets of months a range can have


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
    coded: list[str] = field(default_factory=list)  # the users in code order: code = index
    # project -> UTC day -> sorted codes of that day's users (parts merged when read)
    days: dict[str, dict[int, list[np.ndarray]]] = field(default_factory=dict)
    too_many: bool = False
    _table: pa.Table | None = field(default=None, repr=False)  # codes_table(), while current

    def codes_table(self) -> pa.Table | None:
        """(user_id, code) of every kept user, for SQL; None past MAX_USERS. Codes are only
        ever added, so only the users coded since the last call are appended (the caller holds
        the summary's lock: the writer's folds wait meanwhile)."""
        if self.too_many:
            return None
        known = 0 if self._table is None else self._table.num_rows
        if self._table is None or known != len(self.coded):
            new = pa.table(
                {
                    "user_id": pa.array(self.coded[known:], pa.string()),
                    "code": pa.array(np.arange(known, len(self.coded), dtype=np.int32)),
                }
            )
            table = new if self._table is None else pa.concat_tables([self._table, new])
            # One chunk per read with new users: merged now and then, not scanned as thousands.
            self._table = table.combine_chunks() if table.column(0).num_chunks > 64 else table
        return self._table

    def code_all(self, users: Sequence[str]) -> np.ndarray | None:
        """The code of each user (new users get the next ones); None past MAX_USERS."""
        if self.too_many:
            return None
        codes, coded = self.codes, self.coded
        for user in users:
            if user not in codes:
                codes[user] = len(coded)
                coded.append(user)
        if len(codes) > MAX_USERS:
            self.too_many = True
            self.codes, self.coded, self.days = {}, [], {}
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
    """Distinct counts beside the main scan, and active users from the users kept per day."""

    _with_cursor: Callable[..., Any]
    _submit: Callable[..., Future[Any]]
    _records: Callable[[str, Sequence[Any]], list[Record]]
    _day_users: DayUsers
    _open_end: Callable[[Scope], bool]

    def _distinct_side(
        self,
        scope: Scope,
        aggs: list[Agg],
        keys: list[tuple[str, str]],
        where_group: tuple[str, str],
        params: list[Any],
    ) -> Future[list[Record]] | None:
        """The distinct counts of `aggs`, as their own scan (`where_group`: the scan's WHERE
        and GROUP BY clauses; `params`: the keys' parameters, then the WHERE's)."""
        distinct = [a for a in aggs if a.op is Op.DISTINCT]
        if not distinct:
            return None
        where, group = where_group
        extra = [f"{expr} AS {alias}" for alias, expr in keys]
        extra += [f"{agg_sql(a)} AS a{aggs.index(a)}" for a in distinct]
        sql = f"SELECT {', '.join(extra)} FROM events WHERE {where}{group}"
        alias = f"a{aggs.index(distinct[0])}"
        if distinct != [Agg(Op.DISTINCT, "user_id")]:
            return self._submit(self._records, sql, params)
        if not keys:  # active users of the range: the users kept per day may answer
            return self._submit(self._range_users, scope, alias, sql, params)
        if [name for name, _ in keys] == ["t"]:  # per time bucket: a bitmap per bucket
            return self._submit(
                self._users_per_bucket, scope, keys[0][1], where, alias, sql, params
            )
        return self._submit(self._records, sql, params)

    def _range_users(self, scope: Scope, alias: str, sql: str, params: list[Any]) -> list[Record]:
        users = self._kept_active_users(scope)
        return [{alias: users}] if users is not None else self._records(sql, params)

    def _users_per_bucket(
        self, scope: Scope, bucket: str, where: str, alias: str, sql: str, params: list[Any]
    ) -> list[Record]:
        """Distinct users per time bucket (`bucket`: its expression), exact, as one bitmap of
        the kept users' codes per bucket (DuckDB's `bitstring_agg`) instead of a hash table
        of every (bucket, user) pair: 30 days of 10 M calls per hour in 252 ms against 819.
        Users stored since the codes were read are counted beside them. `sql`: the plain
        count, for too many users or buckets."""
        codes = self._day_users.read(self._scan_day_users, lambda kept: kept.codes_table())
        if codes is None or not codes.num_rows:
            return self._records(sql, params)
        if _buckets(scope, bucket) * codes.num_rows > MAX_BITMAP_BITS:
            return self._records(sql, params)
        count = (
            f"coalesce(bit_count(bitstring_agg(c.code, 0, {codes.num_rows - 1})), 0) "
            "+ count(DISTINCT CASE WHEN c.code IS NULL THEN e.user_id END)"
        )
        per_call, start = grouped_bucket(bucket, "e.t")
        bitmap = (
            f"SELECT {start} AS t, {count} AS {alias} FROM (SELECT {per_call} AS t, user_id "
            f"FROM events WHERE {where}) e LEFT JOIN kept_user_codes c ON e.user_id = c.user_id "
            "GROUP BY e.t"
        )
        return self._with_cursor(_with_codes, codes, bitmap, params)  # type: ignore[no-any-return]

    def _kept_active_users(self, scope: Scope) -> int | None:
        """Exact active users of a range filtered on the project only that holds a whole UTC
        day (None otherwise, or when there are too many users to keep)."""
        span = day_span(scope, "day", self._open_end(scope))
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
        span = day_span(scope, "day", self._open_end(scope))
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


def _buckets(scope: Scope, bucket: str) -> int:
    """At most how many buckets of `bucket` (a series' time key, `time_key`) the range has."""
    for unit, step in INTERVALS.items():
        if bucket == time_key(unit):
            return (scope.end - scope.start) // (step or SHORTEST_MONTH) + 2
    return 2**62  # not a time bucket of a series: never a bitmap


def _with_codes(
    cur: duckdb.DuckDBPyConnection, codes: pa.Table, sql: str, params: list[Any]
) -> list[Record]:
    cur.register("kept_user_codes", codes)
    try:
        return records(cur, sql, params)
    finally:
        cur.unregister("kept_user_codes")


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
