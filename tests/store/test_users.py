"""The store contract for users (`user_activity`, `user_retention`) on every backend, against an
independent pandas computation on random data: distinct users counted directly from the calls
(day by day, window by window), not by the stores' interval trick.

The data: 70 UTC days, users whose first call is spread over the days (a cohort per day), each
coming back on random later days with a decaying chance, in two projects (the same user_id in
both is two users), with calls without a user_id mixed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from promptpulse.model import Filter, Scope
from promptpulse.store import Store
from tests.store.conftest import RAW_ONLY, make_calls, naive, write

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 70
END = T0 + timedelta(days=DAYS)


def make_user_calls(seed: int = 7, users: int = 300) -> pa.Table:
    """Calls of `users` users per project with first-seen days spread over the span."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str | None, datetime]] = []
    for project in ("alpha", "beta"):
        for u in range(users):
            first = int(rng.integers(0, DAYS))
            stay = rng.uniform(0.05, 0.6)  # chance of coming back on each later day
            days = [first] + [d for d in range(first + 1, DAYS) if rng.random() < stay]
            for d in days:
                for _ in range(int(rng.integers(1, 4))):
                    t = T0 + timedelta(days=d, microseconds=int(rng.integers(0, 86_400_000_000)))
                    rows.append((project, f"u{u}", t))
    for _ in range(400):  # calls with no user: in no count
        t = T0 + timedelta(microseconds=int(rng.integers(0, DAYS * 86_400_000_000)))
        rows.append((("alpha", "beta")[int(rng.integers(0, 2))], None, t))
    # A user whose first call is exactly at midnight, one a microsecond before.
    rows += [("alpha", "edge", T0 + timedelta(days=40)), ("beta", "edge", T0 + timedelta(days=40))]
    rows.append(("alpha", "edge", T0 + timedelta(days=41) - timedelta(microseconds=1)))
    base = make_calls(rng, len(rows), id_prefix="uc").slice(0, len(rows))  # the other fields
    for name, values in (
        ("project", [r[0] for r in rows]),
        ("user_id", [r[1] for r in rows]),
        ("timestamp", [naive(r[2]) for r in rows]),
    ):
        i = base.schema.get_field_index(name)
        base = base.set_column(i, base.schema.field(i), pa.array(values, base.schema.field(i).type))
    return base


@pytest.fixture(scope="module")
def user_table() -> pa.Table:
    return make_user_calls()


@pytest.fixture(scope="module")
def user_calls(user_table: pa.Table) -> pd.DataFrame:
    return user_table.to_pandas()


@pytest.fixture(scope="module")
def users_store(open_fresh: Callable[..., Store], user_table: pa.Table) -> Store:
    s = open_fresh(RAW_ONLY)
    assert write(s, "events", user_table, batch=5000) == (user_table.num_rows, 0)
    return s


# ------------------------------------------------------------------ the independent definitions


def user_days(calls: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """Distinct (project, user_id, day) of the calls matching the filters before the end."""
    c = calls[calls.user_id.notna() & (calls.timestamp < naive(scope.end))]
    for f in scope.filters:
        c = c[c[f.dimension].isin(f.values)]
    out = pd.DataFrame(
        {"user": c.project + "\x00" + c.user_id, "day": c.timestamp.dt.floor("D").dt.date}
    )
    return out.drop_duplicates()


def expected_activity(calls: pd.DataFrame, scope: Scope, interval: str) -> list[dict]:
    ud = user_days(calls, scope)
    first = ud.groupby("user").day.min()
    last_day = (scope.end - timedelta(microseconds=1)).date()
    start = scope.start.date()
    if interval == "week":
        start -= timedelta(days=start.weekday())
    step = 1 if interval == "day" else 7
    out = []
    b = start
    while b <= last_day:
        last = min(b + timedelta(days=step - 1), last_day)

        def distinct(lo: date, hi: date) -> int:
            return int(ud[(ud.day >= lo) & (ud.day <= hi)].user.nunique())

        out.append(
            {
                "t": b,
                "active": distinct(b, last),
                "new_users": int(((first >= b) & (first <= last)).sum()),
                "dau": distinct(last, last),
                "wau": distinct(last - timedelta(days=6), last),
                "mau": distinct(last - timedelta(days=29), last),
            }
        )
        b += timedelta(days=step)
    return out


def expected_retention(calls: pd.DataFrame, scope: Scope, days: tuple[int, ...]) -> list[dict]:
    ud = user_days(calls, scope)
    first = ud.groupby("user").day.min()
    active = set(zip(ud.user, ud.day, strict=True))
    out = []
    for c in sorted(set(first[first >= scope.start.date()])):
        cohort = first[first == c].index
        retained: dict[int, int | None] = {}
        for k in days:
            day = c + timedelta(days=k)
            over = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            retained[k] = sum((u, day) in active for u in cohort) if over <= scope.end else None
        out.append({"cohort": c, "users": len(cohort), "retained": retained})
    return out


SCOPES = {
    "whole span": Scope(T0, END),
    "mid-day edges": Scope(T0 + timedelta(days=31, hours=7), T0 + timedelta(days=58, hours=13)),
    "history before": Scope(T0 + timedelta(days=45), T0 + timedelta(days=60)),
    "one day": Scope(T0 + timedelta(days=40), T0 + timedelta(days=41)),
    "project": Scope(T0 + timedelta(days=20), END, (Filter("project", ("beta",)),)),
    "model and status": Scope(
        T0 + timedelta(days=10),
        T0 + timedelta(days=50, hours=1),
        (Filter("model", ("gpt-4o", "inhouse-7b")), Filter("status", ("success",))),
    ),
    "after the data": Scope(END - timedelta(days=3), END + timedelta(days=4)),
}


def got_activity(store: Store, scope: Scope, interval: str) -> list[dict]:
    return [
        {
            "t": r.t.date(),
            "active": r.active,
            "new_users": r.new_users,
            "dau": r.dau,
            "wau": r.wau,
            "mau": r.mau,
        }
        for r in store.user_activity(scope, interval)
    ]


@pytest.mark.parametrize("interval", ["day", "week"])
@pytest.mark.parametrize("case", list(SCOPES))
def test_user_activity(
    users_store: Store, user_calls: pd.DataFrame, case: str, interval: str
) -> None:
    scope = SCOPES[case]
    got = got_activity(users_store, scope, interval)
    want = expected_activity(user_calls, scope, interval)
    assert got == want
    assert all(r.t.tzinfo is not None for r in users_store.user_activity(scope, interval))
    assert any(p["wau"] > p["dau"] for p in want) or case == "one day"  # not a trivial case


@pytest.mark.parametrize("days", [(1, 7, 30), (2, 3)])
@pytest.mark.parametrize("case", list(SCOPES))
def test_user_retention(
    users_store: Store, user_calls: pd.DataFrame, case: str, days: tuple[int, ...]
) -> None:
    scope = SCOPES[case]
    got = [
        {"cohort": r.cohort.date(), "users": r.users, "retained": r.retained}
        for r in users_store.user_retention(scope, days)
    ]
    want = expected_retention(user_calls, scope, days)
    assert got == want
    if case == "whole span":  # known and unknown days both occur
        values = [v for row in want for v in row["retained"].values()]
        assert None in values and any(v for v in values)


def test_random_scopes(users_store: Store, user_calls: pd.DataFrame) -> None:
    rng = np.random.default_rng(11)
    for _ in range(6):
        a, b = sorted(rng.integers(0, (DAYS + 2) * 24, 2))
        scope = Scope(T0 + timedelta(hours=int(a)), T0 + timedelta(hours=int(b) + 1))
        if rng.random() < 0.5:
            scope = scope.with_filter("project", ["alpha"])
        interval = ("day", "week")[int(rng.integers(0, 2))]
        assert got_activity(users_store, scope, interval) == expected_activity(
            user_calls, scope, interval
        )
        days = (1, 7, 30)
        got = [(r.cohort.date(), r.users, r.retained) for r in users_store.user_retention(scope)]
        want = [
            (r["cohort"], r["users"], r["retained"])
            for r in expected_retention(user_calls, scope, days)
        ]
        assert got == want


def test_bad_input_is_a_value_error(users_store: Store) -> None:
    with pytest.raises(ValueError, match="interval"):
        users_store.user_activity(SCOPES["one day"], "hour")
    with pytest.raises(ValueError, match="retention days"):
        users_store.user_retention(SCOPES["one day"], (0,))
