"""`Store.call_table` on every backend, and the backtests' in-memory replay over it: the calls of
a scope oldest first with any fields, and every catalog metric of any window inside (grouped or
not, daily series) equal to what `aggregate` answers."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.alerts import ReplayStore
from promptpulse.alerts.replay import fields_for
from promptpulse.model import CATALOG, Dimension, Filter, Kind, Scope
from promptpulse.store import Store
from tests.store.conftest import END, T0, Dataset
from tests.store.test_contract import select

METRICS = [m for m in CATALOG.values() if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
SCOPES = [(), (Filter("model", ("inhouse-7b", "gpt-4o")),), (Filter("tag", ("vip",)),)]


@pytest.mark.parametrize("filters", SCOPES, ids=["all", "models", "tag"])
def test_call_table_is_the_scope_oldest_first(
    store: Store, dataset: Dataset, filters: tuple[Filter, ...]
) -> None:
    scope = Scope(T0, END, filters)
    table = store.call_table(scope, ["timestamp", "id", "status", "latency_ms", "tags"])
    assert isinstance(table, pa.Table) and table.column_names[:2] == ["timestamp", "id"]
    idx = select(dataset, scope)
    assert table.num_rows == len(idx) > 0
    ts = table.column("timestamp").cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    assert np.all(np.diff(ts) >= 0)
    assert sorted(table.column("id").to_pylist()) == sorted(dataset.col("id")[idx])


def _close(got: object, want: object) -> bool:
    if got is None or want is None:
        return got is want
    return bool(np.isclose(float(got), float(want), rtol=1e-9, atol=1e-12))  # type: ignore[arg-type]


@pytest.mark.parametrize("filters", SCOPES, ids=["all", "models", "tag"])
def test_replay_answers_every_window_as_the_store(
    store: Store, dataset: Dataset, filters: tuple[Filter, ...]
) -> None:
    fields = [*fields_for(METRICS), "model"]
    replay = ReplayStore(store.call_table(Scope(T0, END, filters), fields), filters, T0, END)
    rng = np.random.default_rng(3)
    span = (END - T0).total_seconds()
    for _ in range(12):
        a, b = sorted(rng.uniform(0, span, 2))
        scope = Scope(T0 + timedelta(seconds=a), T0 + timedelta(seconds=b), filters)
        for group in ([], [Dimension("model")]):
            want = {r.key: r.values for r in store.aggregate(scope, METRICS, group)}
            got = {r.key: r.values for r in replay.aggregate(scope, METRICS, group)}
            assert set(got) == set(want)
            for k, row in want.items():
                for m in METRICS:
                    assert _close(got[k][m.name], row[m.name]), (scope, k, m.name)
    daily = [CATALOG["cost_usd"], CATALOG["requests"], CATALOG["tokens"]]
    scope = Scope(T0, END, filters)
    want_d = {r.t: r.values for r in store.aggregate(scope, daily, interval="day")}
    got_d = {r.t: r.values for r in replay.aggregate(scope, daily, interval="day")}
    assert set(got_d) == set(want_d)
    for t, row in want_d.items():
        assert all(_close(got_d[t][m.name], row[m.name]) for m in daily), t
