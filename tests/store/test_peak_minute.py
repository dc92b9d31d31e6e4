"""The busiest minute (`peak_per_minute` without groups) on every backend, against numpy, over
ranges that cut minutes anywhere, while calls arrive, are retained and erased.

DuckDB keeps the calls per (project, minute) in memory between questions (store/duck/minutes.py):
this follows that summary through every change of the stored calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import Filter, Scope
from promptpulse.store import Store
from tests.store.conftest import BURSTS, END, RAW_ONLY, T0, make_calls, naive, write, write_shuffled

US = int((END - T0) / timedelta(microseconds=1))
MINUTE_US = 60_000_000


@pytest.fixture(scope="module")
def calls() -> pa.Table:
    return make_calls(np.random.default_rng(21), 6000, id_prefix="pk")


def micros(t: datetime) -> int:
    return int((naive(t) - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def expected(stored: dict[str, np.ndarray], scope: Scope) -> int:
    """Most calls in one UTC minute among the stored calls in the scope (numpy)."""
    keep = (stored["t"] >= micros(scope.start)) & (stored["t"] < micros(scope.end))
    projects = scope.filter_values("project")
    if projects is not None:
        keep &= np.isin(stored["project"], projects)
    if not keep.any():
        return 0
    return int(np.unique(stored["t"][keep] // MINUTE_US, return_counts=True)[1].max())


def columns(table: pa.Table) -> dict[str, np.ndarray]:
    t = table.column("timestamp").cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    return {
        "t": t,
        "project": np.asarray(table.column("project").to_pylist(), dtype=object),
        "user": np.asarray(table.column("user_id").to_pylist(), dtype=object),
    }


def peak(store: Store, scope: Scope) -> int:
    rows = store.peak_per_minute(scope)
    assert len(rows) <= 1 and all(isinstance(r.peak, int) for r in rows)
    return rows[0].peak if rows else 0


def scopes() -> list[Scope]:
    rng = np.random.default_rng(8)
    burst, project, _ = BURSTS[0]
    out = [
        Scope(T0, END),
        Scope(T0 - timedelta(days=1), END + timedelta(days=1)),
        # Cutting the busiest minute: only its part inside the range counts.
        Scope(burst + timedelta(seconds=30), END),
        Scope(T0, burst + timedelta(seconds=20, microseconds=1)),
        Scope(burst + timedelta(seconds=10), burst + timedelta(seconds=50)),  # inside a minute
        Scope(burst, burst + timedelta(minutes=1)),  # exactly one minute
        Scope(T0, END, (Filter("project", (project,)),)),
        Scope(T0, END, (Filter("project", ("beta", "gamma")),)),
        Scope(T0, END, (Filter("project", ("nobody",)),)),
        Scope(END, END + timedelta(days=1)),  # no calls
    ]
    for _ in range(6):
        a, b = sorted(int(x) for x in rng.integers(0, US, 2))
        out.append(Scope(T0 + timedelta(microseconds=a), T0 + timedelta(microseconds=b)))
    return out


def check(store: Store, stored: dict[str, np.ndarray]) -> None:
    for scope in scopes():
        assert peak(store, scope) == expected(stored, scope), scope


def test_peak_follows_new_calls_retention_and_erasure(
    fresh: Callable[..., Store], calls: pa.Table
) -> None:
    """Asked, then more calls (some older than what was asked about) and duplicates, then raw
    retention at an instant inside a minute, then erasures of a user and of a project: each
    answer equals numpy over the calls stored at that moment."""
    store = fresh(RAW_ONLY)
    stored = columns(write_shuffled(store, calls, 4, lambda first: check(store, columns(first))))
    check(store, stored)
    assert expected(stored, Scope(T0, END)) >= max(n for _, _, n in BURSTS)  # bursts are in

    cut = T0 + timedelta(days=1, hours=5, minutes=17, seconds=12)  # inside the biggest burst
    store.apply_retention("raw", cut)
    stored = {k: v[stored["t"] >= micros(cut)] for k, v in stored.items()}
    check(store, stored)

    user = next(u for u in stored["user"] if u is not None)
    project = str(stored["project"][stored["user"] == user][0])
    store.erase(project, user)
    stored = {
        k: v[~((stored["user"] == user) & (stored["project"] == project))]
        for k, v in stored.items()
    }
    check(store, stored)
    store.erase("beta")
    stored = {k: v[stored["project"] != "beta"] for k, v in stored.items()}
    check(store, stored)


def test_calls_in_one_minute_range(fresh: Callable[..., Store], calls: pa.Table) -> None:
    """Ranges shorter than a minute, and ranges whose ends fall in the same minute."""
    store = fresh(RAW_ONLY)
    write(store, "events", calls)
    stored = columns(calls)
    burst = BURSTS[1][0]
    for a, b in ((0, 59), (59, 61), (1, 2), (30, 90), (0, 120)):
        start = burst + timedelta(seconds=a, microseconds=7)
        scope = Scope(start, burst + timedelta(seconds=b, microseconds=3))
        assert peak(store, scope) == expected(stored, scope), scope
