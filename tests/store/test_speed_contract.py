"""The store contract for streaming speed, histograms and the hour-of-week grid, on every backend.

Per-call figures (generation, TPOT, output tokens per second) are defined again in numpy in
`conftest.DERIVED`; the catalog's percentiles of them are covered by `test_contract.py` (every
catalog metric, every grouping). Here: the per-call values themselves, including the calls the
definitions leave out, bin counts against `numpy.histogram`, and (weekday, hour) groups in a
time zone against Python's zoneinfo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import CATALOG, DERIVED_CALL_FIELDS, Filter, Kind, Metric, Scope
from promptpulse.store import Store
from tests.store.conftest import DERIVED, END, T0, Dataset, make_calls, naive, write
from tests.store.test_contract import ALL_TIME, select


@pytest.mark.parametrize(
    "scope",
    [ALL_TIME, Scope(T0 + timedelta(hours=5), END, (Filter("model", ("gpt-4o",)),))],
    ids=["all", "filtered"],
)
def test_derived_values_and_columns(store: Store, dataset: Dataset, scope: Scope) -> None:
    """values/columns take a derived figure like a stored field: NaN (or left out) where the
    definition does not apply."""
    idx = select(dataset, scope)
    for name in DERIVED_CALL_FIELDS:
        want = dataset.col(name)[idx]
        assert 0 < np.count_nonzero(~np.isnan(want)) < len(want), name  # both kinds of call
        got = store.values(scope, name)
        np.testing.assert_allclose(np.sort(got), np.sort(want[~np.isnan(want)]), rtol=1e-12)
        got = store.values(scope, name, where_not_null=False)
        assert np.isnan(got).sum() == np.isnan(want).sum(), name
    names = ["latency_ms", *DERIVED_CALL_FIELDS]
    cols = store.columns(scope, names)
    order = np.lexsort([np.nan_to_num(cols[n], nan=-1) for n in reversed(names)])
    want_order = np.lexsort([np.nan_to_num(dataset.col(n)[idx], nan=-1) for n in reversed(names)])
    for n in names:
        np.testing.assert_allclose(cols[n][order], dataset.col(n)[idx][want_order], rtol=1e-12)


def _edge_calls() -> pa.Table:
    """Calls every definition must leave out or keep: TTFT above latency, no TTFT, 0 and 1
    output tokens, latency 0, TTFT equal to latency."""
    rng = np.random.default_rng(7)
    base = make_calls(rng, 0).slice(0, 1)
    cases = [  # (latency, ttft, output_tokens)
        (1000.0, 200.0, 101),  # generation 800, tpot 8, tps 101
        (1000.0, 1200.0, 50),  # ttft > latency: no generation, no tpot; tps 50
        (500.0, None, 20),  # no ttft: only tps
        (400.0, 100.0, 1),  # one token: generation 300, no tpot
        (400.0, 100.0, 0),  # no output: generation 300, no tpot, no tps
        (0.0, 0.0, 5),  # latency 0: generation 0, tpot 0, no tps
        (300.0, 300.0, 3),  # ttft = latency: generation 0, tpot 0
    ]
    rows = []
    for i, (latency, ttft, out) in enumerate(cases):
        row = base.to_pylist()[0]
        row.update(id=f"edge-{i}", latency_ms=latency, ttft_ms=ttft, output_tokens=out)
        row.update(reasoning_tokens=0, timestamp=naive(T0 + timedelta(minutes=i)))
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=base.schema)


def test_definitions_on_edge_calls(fresh: Callable[..., Store]) -> None:
    store = fresh()
    write(store, "events", _edge_calls())
    scope = Scope(T0, END)
    got = store.columns(scope, ["latency_ms", *DERIVED_CALL_FIELDS])
    by_latency = sorted(
        zip(*(got[n].tolist() for n in ["latency_ms", *DERIVED_CALL_FIELDS]), strict=True),
        key=lambda r: (r[0], -1 if np.isnan(r[1]) else r[1], -1 if np.isnan(r[3]) else r[3]),
    )
    nan = float("nan")
    want = sorted(
        [
            (1000.0, 800.0, 8.0, 101.0),
            (1000.0, nan, nan, 50.0),
            (500.0, nan, nan, 40.0),
            (400.0, 300.0, nan, 2.5),
            (400.0, 300.0, nan, nan),
            (0.0, 0.0, 0.0, nan),
            (300.0, 0.0, 0.0, 10.0),
        ],
        key=lambda r: (r[0], -1 if np.isnan(r[1]) else r[1], -1 if np.isnan(r[3]) else r[3]),
    )
    np.testing.assert_allclose(np.array(by_latency), np.array(want), rtol=1e-12)
    speed = [m for m in CATALOG.values() if m.column in DERIVED_CALL_FIELDS]
    row = store.aggregate(scope, speed)[0]
    assert row["tpot_p50_ms"] == pytest.approx(np.percentile([8.0, 0.0, 0.0], 50))
    assert row["generation_p99_ms"] == pytest.approx(np.percentile([800, 300, 300, 0, 0], 99))
    assert row["output_tps_p5"] == pytest.approx(np.percentile([101, 50, 40, 2.5, 10], 5))


def _quantile(column: str, q: float) -> Metric:
    return Metric(f"{column}_q", "", "", Kind.QUANTILE, column=column, q=q)


@pytest.mark.parametrize("column", ["latency_ms", "ttft_ms", *DERIVED_CALL_FIELDS])
@pytest.mark.parametrize("bins", [1, 7, 40])
def test_histogram(store: Store, dataset: Dataset, column: str, bins: int) -> None:
    """Bins of width w from 0, the last open upward: numpy.histogram with those edges."""
    scope = Scope(T0 + timedelta(hours=3), END, (Filter("status", ("success",)),))
    x = dataset.col(column)[select(dataset, scope)]
    x = x[~np.isnan(x)]
    width = float(np.percentile(x, 90)) / bins
    got = store.histogram(scope, column, width, bins)
    edges = np.append(np.arange(bins) * width, np.inf)
    want, _ = np.histogram(x, edges)
    assert got == want.tolist()
    assert sum(got) == len(x)
    assert store.histogram(Scope(END, END + timedelta(hours=1)), column, width, bins) == [0] * bins


ZONES = ["UTC", "America/New_York", "Asia/Kolkata"]  # DST, and a half-hour offset


@pytest.mark.parametrize("tz", ZONES)
def test_hour_of_week(store: Store, dataset: Dataset, tz: str) -> None:
    """Counts, rates and exact percentiles per (weekday Monday=0, hour) of local time."""
    scope = Scope(T0, END, (Filter("project", ("alpha", "beta")),))
    metrics = [CATALOG["requests"], CATALOG["error_rate"], CATALOG["latency_p95_ms"]]
    rows = store.aggregate_by_hour_of_week(scope, metrics, tz)
    idx = select(dataset, scope)
    zone = ZoneInfo(tz)
    local = [t.replace(tzinfo=UTC).astimezone(zone) for t in dataset.col("timestamp")[idx].tolist()]
    keys = np.array([lt.weekday() * 24 + lt.hour for lt in local])
    status, latency = dataset.col("status")[idx], dataset.col("latency_ms")[idx]
    got = {(r.group[0], r.group[1]): r for r in rows}
    assert set(got) == {(int(k) // 24, int(k) % 24) for k in np.unique(keys)}
    for (weekday, hour), r in got.items():
        mine = keys == weekday * 24 + hour
        assert r["requests"] == int(mine.sum())
        assert r["error_rate"] == pytest.approx((status[mine] == "error").mean(), rel=1e-12)
        assert r["latency_p95_ms"] == pytest.approx(np.percentile(latency[mine], 95), rel=1e-12)


def test_bad_names_are_value_errors(store: Store) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.aggregate_by_hour_of_week(ALL_TIME, [CATALOG["requests"]], "UTC'; DROP")
    with pytest.raises(ValueError, match="not a call field"):
        store.histogram(ALL_TIME, "nope", 1.0, 3)
    with pytest.raises(ValueError, match="not a call field"):
        store.values(ALL_TIME, "tpot")


def test_half_hour_zone_moves_calls(fresh: Callable[..., Store]) -> None:
    """A call at 23:50 UTC on a Sunday is Monday 05:20 in Kolkata (+05:30)."""
    store = fresh()
    one = _edge_calls().slice(0, 1)
    at = datetime(2025, 3, 30, 23, 50)  # a Sunday
    one = one.set_column(one.schema.get_field_index("timestamp"), "timestamp", pa.array([at]))
    write(store, "events", one)
    scope = Scope(T0, END)
    utc = store.aggregate_by_hour_of_week(scope, [CATALOG["requests"]], "UTC")
    kolkata = store.aggregate_by_hour_of_week(scope, [CATALOG["requests"]], "Asia/Kolkata")
    assert [(r.group, r["requests"]) for r in utc] == [((6, 23), 1)]
    assert [(r.group, r["requests"]) for r in kolkata] == [((0, 5), 1)]


def test_derived_definitions_match_conftest() -> None:
    """The numpy definitions cover exactly the store's derived figures."""
    assert set(DERIVED) == set(DERIVED_CALL_FIELDS)
