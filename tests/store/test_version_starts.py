"""The store contract for prompt-version change markers (`version_starts`) on every backend,
against an independent pandas computation on random data: each (project, prompt_id,
prompt_version) first called at a random moment of ten days, then called at random after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from promptpulse.model import Filter, Scope
from promptpulse.store import Store
from tests.store.conftest import RAW_ONLY, make_calls, naive, write

T0 = datetime(2025, 5, 1, tzinfo=UTC)
DAYS = 10
END = T0 + timedelta(days=DAYS)
US = DAYS * 86_400_000_000


def make_version_calls(seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str | None, str | None, str, datetime]] = []
    for project in ("alpha", "beta"):
        for prompt in ("support", "search", None):
            for v in range(int(rng.integers(2, 7))):
                first = int(rng.integers(0, US))
                for _ in range(int(rng.integers(1, 20))):
                    t = T0 + timedelta(microseconds=int(rng.integers(first, US)))
                    env = ("prod", "staging")[int(rng.integers(0, 2))]
                    rows.append((project, prompt, f"v{v}", env, t))
    for _ in range(100):  # calls with no version: never a marker
        t = T0 + timedelta(microseconds=int(rng.integers(0, US)))
        rows.append(("alpha", "support", None, "prod", t))
    base = make_calls(rng, len(rows), id_prefix="vs").slice(0, len(rows))  # the other fields
    for k, name in enumerate(("project", "prompt_id", "prompt_version", "environment")):
        i = base.schema.get_field_index(name)
        values = [r[k] for r in rows]
        base = base.set_column(i, base.schema.field(i), pa.array(values, base.schema.field(i).type))
    i = base.schema.get_field_index("timestamp")
    stamps = pa.array([naive(r[4]) for r in rows], base.schema.field(i).type)
    return base.set_column(i, base.schema.field(i), stamps)


@pytest.fixture(scope="module")
def version_table() -> pa.Table:
    return make_version_calls()


@pytest.fixture(scope="module")
def versions_store(open_fresh: Callable[..., Store], version_table: pa.Table) -> Store:
    s = open_fresh(RAW_ONLY)
    assert write(s, "events", version_table, batch=5000) == (version_table.num_rows, 0)
    return s


def expected(calls: pd.DataFrame, scope: Scope) -> list[tuple[datetime, str, str | None, str]]:
    c = calls[calls.prompt_version.notna() & (calls.timestamp < naive(scope.end))]
    for f in scope.filters:
        c = c[c[f.dimension].isin(f.values)]
    first = c.groupby(["project", "prompt_id", "prompt_version"], dropna=False).timestamp.min()
    out = [
        (t.to_pydatetime().replace(tzinfo=UTC), p, None if pd.isna(pid) else pid, v)
        for (p, pid, v), t in first.items()
        if t >= naive(scope.start)
    ]
    return sorted(out, key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def got(store: Store, scope: Scope) -> list[tuple[datetime, str, str | None, str]]:
    rows = [
        (r.first, r.project, r.prompt_id, r.prompt_version) for r in store.version_starts(scope)
    ]
    return sorted(rows, key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def scopes(calls: pd.DataFrame) -> list[Scope]:
    rng = np.random.default_rng(3)
    out = [Scope(T0, END, ()), Scope(T0 - timedelta(days=1), END + timedelta(days=1), ())]
    for _ in range(4):
        a, b = sorted(int(x) for x in rng.integers(0, US, 2))
        out.append(Scope(T0 + timedelta(microseconds=a), T0 + timedelta(microseconds=b), ()))
    # A range starting exactly on a version's first call keeps it; one a microsecond later not.
    firsts = calls[calls.prompt_version.notna()].groupby(["project", "prompt_version"]).timestamp
    edge = firsts.min().iloc[0].to_pydatetime().replace(tzinfo=UTC)
    out += [Scope(edge, END, ()), Scope(edge + timedelta(microseconds=1), END, ())]
    out.append(Scope(T0, END, (Filter("project", ("beta",)),)))
    out.append(
        Scope(T0, END, (Filter("prompt_id", ("support",)), Filter("environment", ("prod",))))
    )
    return out


def test_version_starts_match_pandas(versions_store: Store, version_table: pa.Table) -> None:
    calls = version_table.to_pandas()
    for scope in scopes(calls):
        want = expected(calls, scope)
        assert got(versions_store, scope) == want, scope
    assert len(expected(calls, Scope(T0, END, ()))) > 10  # the data has markers to find


def test_a_version_first_called_before_the_range_is_no_marker(versions_store: Store) -> None:
    late = Scope(END - timedelta(hours=1), END + timedelta(days=1), ())
    full = {(r.project, r.prompt_id, r.prompt_version) for r in versions_store.version_starts(late)}
    early = Scope(T0, END - timedelta(hours=1), ())
    before = {
        (r.project, r.prompt_id, r.prompt_version) for r in versions_store.version_starts(early)
    }
    assert not (full & before)


def test_markers_follow_new_calls_retention_and_erasure(
    fresh: Callable[..., Store], version_table: pa.Table
) -> None:
    """Asked, then more calls (some older than what was asked about), then raw retention,
    then an erasure: each answer equals pandas over the calls stored at that moment (the
    DuckDB store keeps the first calls in memory between questions)."""
    store = fresh(RAW_ONLY)
    order = np.random.default_rng(5).permutation(version_table.num_rows)
    shuffled = version_table.take(pa.array(order))
    half = shuffled.num_rows // 2
    scope = Scope(T0 - timedelta(days=1), END + timedelta(days=1), ())
    project = Scope(scope.start, scope.end, (Filter("project", ("alpha",)),))
    write(store, "events", shuffled.slice(0, half))
    stored = shuffled.slice(0, half).to_pandas()
    assert got(store, scope) == expected(stored, scope)
    write(store, "events", shuffled.slice(half))
    write(store, "events", shuffled.slice(0, 50))  # duplicates: nothing changes
    stored = shuffled.to_pandas()
    for s in (scope, project):
        assert got(store, s) == expected(stored, s)

    cut = T0 + timedelta(days=4)
    store.apply_retention("raw", cut)
    stored = stored[stored.timestamp >= naive(cut)]
    assert got(store, scope) == expected(stored, scope)
    store.erase("beta")
    stored = stored[stored.project != "beta"]
    assert got(store, scope) == expected(stored, scope)
    assert {r[1] for r in got(store, scope)} == {"alpha"}
