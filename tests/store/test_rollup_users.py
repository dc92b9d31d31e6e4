"""Active users of ranges the rollups answer (approximate figures allowed), per UTC day and over
the range, against numpy.

DuckDB answers them from the users it keeps per (project, UTC day) (store/duck/day_users.py)
instead of the rollups' HyperLogLog sketches: exact, and a row with no other sketched metric is
not `approximate`. Where retention removed raw calls of the range the sketches answer again (the
kept users come from the calls). ClickHouse answers from the sketches: within their error, and
`approximate`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from promptpulse.model import CATALOG, Filter, Scope
from promptpulse.store import Store
from promptpulse.store.duck import DuckStore
from promptpulse.store.rollup_plan import floor_to
from tests.store.conftest import END, T0, make_calls, write
from tests.store.test_kept_histograms import columns, micros

USERS = CATALOG["active_users"]
SCOPES = [
    Scope(T0, END),
    Scope(T0 + timedelta(hours=5, minutes=13, seconds=2), END - timedelta(hours=1, minutes=7)),
    Scope(T0 + timedelta(minutes=1), END, (Filter("project", ("alpha",)),)),
    Scope(T0, END - timedelta(seconds=1), (Filter("project", ("beta", "gamma")),)),
]


def users_between(stored: dict[str, np.ndarray], scope: Scope, a: datetime, b: datetime) -> int:
    keep = (stored["t"] >= micros(max(a, scope.start))) & (stored["t"] < micros(min(b, scope.end)))
    projects = scope.filter_values("project")
    if projects is not None:
        keep &= np.isin(stored["project"], projects)
    return len({u for u in stored["user_id"][keep] if u is not None})


def close(got: float, want: int, exact: bool) -> bool:
    """Exact on DuckDB; within the sketch's error (a few users at these counts) on ClickHouse."""
    return got == want if exact else abs(got - want) <= max(2.0, 0.03 * want)


def test_active_users_from_rollups(fresh: Callable[..., Store]) -> None:
    store = fresh(0)  # rollup_min_calls=0: every range with a whole hour reads rollups
    calls = make_calls(np.random.default_rng(53), 4000, id_prefix="ru")
    write(store, "events", calls)
    stored = columns(calls)
    exact = isinstance(store, DuckStore)
    for scope in SCOPES:
        rows = store.aggregate(scope, [USERS, CATALOG["requests"]], [], "day", True)
        assert rows, scope
        for row in rows:
            assert row.t is not None
            want = users_between(stored, scope, row.t, row.t + timedelta(days=1))
            assert close(row["active_users"], want, exact), (scope, row.t, row["active_users"])
            assert row.approximate is not exact, (scope, row.t)
        [total] = store.aggregate(scope, [USERS], allow_approximate=True)
        assert close(total["active_users"], users_between(stored, scope, T0, END), exact), scope
        assert total.approximate is not exact, scope
    # A percentile beside them still comes from a sketch: the rows say so on every engine.
    rows = store.aggregate(Scope(T0, END), [USERS, CATALOG["latency_p95_ms"]], [], "day", True)
    assert all(r.approximate for r in rows)

    cut = T0 + timedelta(days=1, hours=7, minutes=31)
    store.apply_retention("raw", cut)
    # Before the cut only the rollups hold those calls: their sketches answer, approximately.
    rows = store.aggregate(Scope(T0, END), [USERS], [], "day", True)
    first = next(r for r in rows if r.t == T0)
    assert first.approximate
    assert close(first["active_users"], users_between(stored, Scope(T0, END), T0, cut), False)
    # From the cut on, the kept users answer again (the cut day's calls are counted).
    kept = {k: v[stored["t"] >= micros(cut)] for k, v in stored.items()}
    scope = Scope(cut, END)
    for row in store.aggregate(scope, [USERS], [], "day", True):
        assert row.t is not None and row.t >= floor_to(cut, "day")
        want = users_between(kept, scope, row.t, row.t + timedelta(days=1))
        assert close(row["active_users"], want, exact), row.t
        assert row.approximate is not exact


@pytest.mark.parametrize("interval", ["hour", "week"])
def test_other_intervals_keep_the_sketches(fresh: Callable[..., Store], interval: str) -> None:
    """Only whole ranges and UTC days are kept: weeks read the sketches. Hours do too, except
    on DuckDB, which counts them exactly (faster than the sketches: `_exact_is_faster`)."""
    store = fresh(0)
    calls = make_calls(np.random.default_rng(59), 1500, id_prefix="ri")
    write(store, "events", calls)
    stored = columns(calls)
    scope = Scope(T0, END)
    rows = store.aggregate(scope, [USERS], [], interval, True)
    step = timedelta(hours=1) if interval == "hour" else timedelta(days=7)
    exact = interval == "hour" and isinstance(store, DuckStore)
    assert rows and all(r.approximate is not exact for r in rows)
    for row in rows:
        assert row.t is not None
        want = users_between(stored, scope, row.t, row.t + step)
        assert close(row["active_users"], want, exact), (row.t, row["active_users"], want)
