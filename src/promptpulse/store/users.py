"""Active users and first-seen retention: what both backends share and is not SQL.

A user is a (project, user_id) pair: the same user_id in two projects is two users. A user is
first seen on the UTC day of their first stored call that matches the query's filters (ever,
not only in the range); raw calls deleted by retention are history no longer known, so a user
whose earlier calls were deleted is first seen on the day of their oldest remaining call.

Each backend computes, in its own SQL, the distinct (project, user_id, day) triples of calls in
scope and from them (never from raw calls in Python):

- `starts` and `ends`: the sliding windows of DAU/WAU/MAU as non-overlapping intervals per user.
  A user active on day a, next active on day b (or never), is inside a w-day window ending on
  each day of [a, min(a + w, b)): one +1 on day a and one -1 on that end, so the count on a day
  is the running sum of starts minus ends up to it (exact distinct counts, O(user-days)).
- `active` and `new` per bucket, and per cohort the users and those active on day c + k.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from promptpulse.model import RetentionRow, Scope, UserActivityRow

WINDOWS = (1, 7, 30)  # DAU, WAU, MAU: days in the sliding window ending with a day
USER_INTERVALS = ("day", "week")
RETENTION_DAYS = (1, 7, 30)
DAY = timedelta(days=1)


def day_of(t: datetime) -> date:
    return t.astimezone(UTC).date()


def floor_bucket(d: date, interval: str) -> date:
    """The UTC bucket a day is in: itself, or the Monday of its ISO week."""
    if interval not in USER_INTERVALS:
        raise ValueError(f"not a user interval: {interval!r} (day or week)")
    return d if interval == "day" else d - timedelta(days=d.weekday())


def bucket_days(scope: Scope, interval: str) -> list[tuple[date, date]]:
    """(bucket start, the bucket's last day before the range ends) of every bucket overlapping
    the range. Buckets are whole: the first one starts before `from` when `from` is inside it."""
    step = DAY if interval == "day" else timedelta(weeks=1)
    last_day = day_of(scope.end - timedelta(microseconds=1))
    out = []
    b = floor_bucket(day_of(scope.start), interval)
    while b <= last_day:
        out.append((b, min(b + step - DAY, last_day)))
        b += step
    return out


def window_start(scope: Scope, interval: str) -> date:
    """The first day whose activity a figure of the range can count: the longest window ending
    on the first bucket's first day (a week bucket reaches back to its Monday)."""
    first = floor_bucket(day_of(scope.start), interval)
    return first - timedelta(days=max(WINDOWS) - 1)


def as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def activity_from_rows(
    scope: Scope, interval: str, rows: Iterable[Mapping[str, Any]]
) -> list[UserActivityRow]:
    """`assemble_activity` from the rows both backends' activity queries answer: `kind`
    (start, end, active, new), `w` (the window of an end), `day` and `n`."""
    rows = list(rows)
    return assemble_activity(
        scope,
        interval,
        [(r["day"], r["n"]) for r in rows if r["kind"] == "start"],
        [(r["w"], r["day"], r["n"]) for r in rows if r["kind"] == "end"],
        {r["day"]: r["n"] for r in rows if r["kind"] == "active"},
        {r["day"]: r["n"] for r in rows if r["kind"] == "new"},
    )


def assemble_activity(
    scope: Scope,
    interval: str,
    starts: Iterable[tuple[date, int]],
    ends: Iterable[tuple[int, date, int]],
    active: Mapping[date, int],
    new: Mapping[date, int],
) -> list[UserActivityRow]:
    """Rows per bucket from the backend's per-day counts: `starts` (day, users whose interval
    starts on it), `ends` (window, day, intervals ending on it), `active` and `new` per bucket."""
    deltas: dict[int, dict[date, int]] = {w: {} for w in WINDOWS}
    for d, n in starts:
        for w in WINDOWS:
            deltas[w][as_date(d)] = deltas[w].get(as_date(d), 0) + int(n)
    for w, d, n in ends:
        deltas[int(w)][as_date(d)] = deltas[int(w)].get(as_date(d), 0) - int(n)
    buckets = bucket_days(scope, interval)
    counts = {w: _running(deltas[w], [last for _, last in buckets]) for w in WINDOWS}
    active_by = {as_date(k): int(v) for k, v in active.items()}
    new_by = {as_date(k): int(v) for k, v in new.items()}
    return [
        UserActivityRow(
            t=midnight(b),
            active=active_by.get(b, 0),
            new_users=new_by.get(b, 0),
            dau=counts[1][i],
            wau=counts[7][i],
            mau=counts[30][i],
        )
        for i, (b, _) in enumerate(buckets)
    ]


def _running(delta: Mapping[date, int], days: list[date]) -> list[int]:
    """The running sum of `delta` up to and including each of `days` (ascending)."""
    ordered = sorted(delta.items())
    out, total, i = [], 0, 0
    for d in days:
        while i < len(ordered) and ordered[i][0] <= d:
            total += ordered[i][1]
            i += 1
        out.append(total)
    return out


def assemble_retention(
    scope: Scope, days: Iterable[int], rows: Iterable[tuple[date, int, list[int]]]
) -> list[RetentionRow]:
    """Cohort rows from (cohort day, users, active on day c + k per k in `days`): a day that is
    not over before the range ends is None (not yet known), not 0."""
    ks = list(days)
    out = []
    for cohort, users, retained in sorted(rows, key=lambda r: as_date(r[0])):
        c = as_date(cohort)
        over = [midnight(c + timedelta(days=k + 1)) <= scope.end for k in ks]
        out.append(
            RetentionRow(
                midnight(c),
                int(users),
                {
                    k: int(n) if done else None
                    for k, n, done in zip(ks, retained, over, strict=True)
                },
            )
        )
    return out


def check_days(days: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(int(k) for k in days)
    if not ks or any(k < 1 or k > 366 for k in ks):
        raise ValueError(f"retention days must be between 1 and 366: {ks}")
    return ks
