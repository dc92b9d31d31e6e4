"""Active users per minute, hour and day of a series, exact, on every backend, against numpy.

DuckDB counts them as one bitmap of the kept users' codes per bucket (store/duck/day_users.py
`_users_per_bucket`); users stored after the codes were read are counted beside the bitmap,
and too many buckets fall back to a plain `count(DISTINCT user_id)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import CATALOG, Filter, Scope
from promptpulse.store import Store
from promptpulse.store.duck import DuckStore, day_users
from promptpulse.store.duck.sql import where_clause
from promptpulse.store.duck.time_keys import time_key
from tests.store.conftest import END, RAW_ONLY, T0, make_calls, write
from tests.store.test_kept_histograms import columns, micros

USERS = CATALOG["active_users"]
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
SCOPES = [
    Scope(T0, END),
    Scope(T0 + timedelta(hours=5, minutes=13, seconds=2), END - timedelta(hours=1, minutes=7)),
    Scope(T0 + timedelta(minutes=1), END, (Filter("project", ("alpha",)),)),
    Scope(T0, END, (Filter("status", ("error",)),)),
]


def users_in(stored: dict[str, np.ndarray], scope: Scope, a: datetime, b: datetime) -> int:
    keep = (stored["t"] >= micros(max(a, scope.start))) & (stored["t"] < micros(min(b, scope.end)))
    for f in scope.filters:
        keep &= np.isin(stored[f.dimension], f.values)
    return len({u for u in stored["user_id"][keep] if u is not None})


def with_new_users(calls: pa.Table) -> pa.Table:
    """The same calls, every other user renamed: users no summary has seen yet."""
    i = calls.schema.get_field_index("user_id")
    renamed = [
        None if u is None else (f"new-{u}" if n % 2 else u)
        for n, u in enumerate(calls.column(i).to_pylist())
    ]
    return calls.set_column(i, calls.schema.field(i), pa.array(renamed, pa.string()))


def check(store: Store, stored: dict[str, np.ndarray]) -> None:
    for interval, step in STEP.items():
        for scope in SCOPES if interval != "minute" else SCOPES[:2]:
            rows = store.aggregate(scope, [USERS, CATALOG["requests"]], [], interval)
            assert rows, (scope, interval)
            for row in rows:
                assert row.t is not None
                want = users_in(stored, scope, row.t, row.t + step)
                assert row["active_users"] == want, (scope, interval, row.t)


def test_active_users_per_bucket(
    fresh: Callable[..., Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fresh(RAW_ONLY)
    calls = make_calls(np.random.default_rng(61), 4000, id_prefix="ub")
    first, rest = calls.slice(0, 2000), with_new_users(calls.slice(2000))
    write(store, "events", first)
    check(store, columns(first))  # the kept users' codes are read here (DuckDB)
    write(store, "events", rest)  # half of these users have no code in what was read
    stored = columns(pa.concat_tables([first, rest]))
    check(store, stored)
    if isinstance(store, DuckStore):
        # The bitmaps answer by themselves: a fallback to the plain count would fail here.
        scope = SCOPES[1]
        where, params = where_clause(scope)
        bucket = time_key("hour")  # the expression the store's hourly series groups by
        got = store._users_per_bucket(
            scope, bucket, where, "n", "SELECT error('fell back')", params
        )
        assert len(got) > 40
        for r in got:
            t = r["t"].replace(tzinfo=scope.start.tzinfo)
            assert r["n"] == users_in(stored, scope, t, t + STEP["hour"]), t
        # Users stored between the read of the codes and the scan have none: counted beside.
        codes = store._day_users.read(store._scan_day_users, lambda kept: kept.codes_table())
        assert codes is not None and codes.num_rows > 100
        half = codes.slice(0, codes.num_rows // 2)
        monkeypatch.setattr(day_users.KeptUsers, "codes_table", lambda self: half)
        check(store, stored)
        monkeypatch.setattr(day_users, "MAX_BITMAP_BITS", 1)  # too many buckets: the plain count
        check(store, stored)
