"""The two-pass exact percentile per group against numpy.percentile on random groups."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from promptpulse.store.duck import grouped_quantiles
from promptpulse.store.duck.grouped_quantiles import exact_grouped_quantiles
from promptpulse.store.duck.time_keys import time_key
from tests.store.duck.test_exact_quantiles import sample  # the same shapes of values

QS = [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0]
MODEL = [("g0", "model")]


def _events(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    con.register("incoming", table)
    con.execute("CREATE OR REPLACE TABLE events AS SELECT * FROM incoming")
    con.unregister("incoming")


def _expected(keys: list[tuple], values: np.ndarray) -> dict[tuple, list[float]]:
    """numpy's answer per group, from the rows' keys and values (NaN: no value)."""
    out = {}
    for key in dict.fromkeys(keys):
        mine = np.array([v for k, v in zip(keys, values, strict=True) if k == key])
        mine = mine[~np.isnan(mine)]
        if len(mine):
            out[key] = list(np.percentile(mine, [q * 100 for q in QS]))
    return out


def _check(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, found in expected.items():
        assert got[key] == pytest.approx(found, rel=1e-12, abs=0), key


@pytest.mark.parametrize("shape", ["lognormal", "ties", "sub-unit", "negative", "huge"])
def test_matches_numpy_per_group(shape: str) -> None:
    rng = np.random.default_rng(sum(map(ord, shape)))
    con = duckdb.connect()
    for _ in range(10):
        n = int(rng.integers(1, 3000))
        values = sample(rng, shape, n)
        values[rng.random(n) < 0.1] = np.nan  # calls without the value
        models = rng.choice(["a", "b", "c", "d", None], n, p=[0.5, 0.3, 0.1, 0.05, 0.05])
        _events(con, pa.table({"model": pa.array(models), "v": pa.array(values, from_pandas=True)}))
        got = exact_grouped_quantiles(con, MODEL, [], "TRUE", [], "v", QS)
        _check(got, _expected([(m,) for m in models], values))


@pytest.mark.parametrize("day", [time_key("day"), "date_trunc('day', timestamp)"])
def test_two_keys_with_parameters_and_a_filter(day: str) -> None:
    """A daily series by a metadata key, as the store asks it: a time key, a group key whose
    expression takes a parameter, and a filter with its own."""
    rng = np.random.default_rng(7)
    n = 5000
    start = datetime(2026, 3, 1)
    times = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 3 * 24 * 60, n)]
    tiers = rng.choice(["free", "pro", "team"], n)
    projects = rng.choice(["p1", "p2"], n)
    values = rng.exponential(400, n)
    _events(
        con := duckdb.connect(),
        pa.table(
            {
                "timestamp": pa.array(times, pa.timestamp("us")),
                "metadata": pa.array([f'{{"tier": "{t}"}}' for t in tiers]),
                "project": pa.array(projects),
                "v": pa.array(values),
            }
        ),
    )
    keys = [("t", day), ("g0", "json_extract_string(metadata, ?)")]
    got = exact_grouped_quantiles(con, keys, ["$.tier"], "project = ?", ["p1"], "v", QS)
    mask = projects == "p1"
    days = [datetime(t.year, t.month, t.day) for t in times]
    expected = _expected(
        [(d, tier) for d, tier, m in zip(days, tiers, mask, strict=True) if m], values[mask]
    )
    _check(got, expected)


def test_no_values_is_no_groups() -> None:
    con = duckdb.connect()
    _events(con, pa.table({"model": ["a", "b"], "v": pa.array([None, None], pa.float64())}))
    assert exact_grouped_quantiles(con, MODEL, [], "TRUE", [], "v", QS) == {}
    # and the transaction of the two passes is over: the cursor takes a new one
    con.execute("BEGIN TRANSACTION")
    con.execute("ROLLBACK")


def test_the_two_passes_answer_few_groups_and_the_sort_many(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Past SORT_IN_SCAN calls, a grouping that a sample shows to have few groups takes the two
    passes, one with many the scan's quantile_cont; both equal numpy per group."""
    from promptpulse.model import CATALOG, Dimension, Scope
    from promptpulse.store.duck import DuckStore

    n = grouped_quantiles.SORT_IN_SCAN + 100_000
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=10**18)
    try:
        store.execute(  # straight into the table: a million calls through the writer take long
            "INSERT INTO events BY NAME SELECT 'p' AS project, 'e' || i AS id, "
            "TIMESTAMP '2026-03-01' + to_microseconds(i * 60) AS timestamp, "
            "['a', 'b', 'c'][1 + i % 3] AS model, 'u' || (hash(i) % 400) AS user_id, "
            "'success' AS status, round(exp(5 + random() * 3), 1) AS latency_ms, "
            "0 AS input_tokens, 0 AS output_tokens, 0 AS cached_tokens, "
            "0 AS reasoning_tokens, FALSE AS cache_hit, 0 AS retries, "
            f"TIMESTAMP '2026-03-02' AS received_at FROM range({n}) t(i)"
        )
        scope = Scope(datetime(2026, 3, 1), datetime(2026, 3, 3))
        p95 = [CATALOG["latency_p95_ms"]]
        table = store.call_table(scope, ["model", "user_id", "latency_ms"]).to_pydict()
        for dimension, two_passes in (("model", True), ("user_id", False)):
            beside = store._grouped_futures(scope, {"latency_ms": p95}, [("g0", dimension)], [])
            assert bool(beside) is two_passes, dimension
            for answer in beside.values():
                answer.result()
            got = {
                r.key: r["latency_p95_ms"]
                for r in store.aggregate(scope, p95, [Dimension(dimension)])
            }
            values: dict[str, list[float]] = {}
            for key, v in zip(table[dimension], table["latency_ms"], strict=True):
                values.setdefault(key, []).append(v)
            assert got.keys() == values.keys()
            for key, vs in values.items():
                assert got[key] == pytest.approx(np.percentile(vs, 95), rel=1e-12), key
    finally:
        store.close()


def test_a_sort_past_the_memory_limit_falls_back_to_the_two_passes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """DuckDB's quantile_cont cannot spill: where it needs more than the memory limit, the
    grouping is answered by the two passes (which can) instead of a 503."""
    from promptpulse.errors import StoreUnavailable
    from promptpulse.model import CATALOG, Dimension, Scope
    from promptpulse.store.duck import DuckStore

    monkeypatch.setattr(grouped_quantiles, "FEW_GROUPS", -1)  # every grouping sorts in the scan
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=10**18)
    try:
        store.execute(
            "INSERT INTO events BY NAME SELECT 'p' AS project, 'e' || i AS id, "
            "TIMESTAMP '2026-03-01' + to_microseconds(i * 1000) AS timestamp, 'm' AS model, "
            "'u' || (hash(i) % 3) AS user_id, 'success' AS status, "
            "round(exp(5 + random() * 3), 1) AS latency_ms, 0 AS input_tokens, "
            "0 AS output_tokens, 0 AS cached_tokens, 0 AS reasoning_tokens, "
            "FALSE AS cache_hit, 0 AS retries, TIMESTAMP '2026-03-02' AS received_at "
            "FROM range(1500000) t(i)"
        )
        scope = Scope(datetime(2026, 3, 1), datetime(2026, 3, 3))
        table = store.call_table(scope, ["user_id", "latency_ms"]).to_pydict()
        store.execute("SET memory_limit = '24MB'")
        with pytest.raises(StoreUnavailable):  # the sort alone does not fit
            store._records(
                "SELECT user_id, quantile_cont(latency_ms, [0.5, 0.95]) FROM events GROUP BY 1",
                [],
            )
        metrics = [CATALOG["requests"], CATALOG["latency_p50_ms"], CATALOG["latency_p95_ms"]]
        got = {r.key: r for r in store.aggregate(scope, metrics, [Dimension("user_id")])}
        values: dict[str, list[float]] = {}
        for key, v in zip(table["user_id"], table["latency_ms"], strict=True):
            values.setdefault(key, []).append(v)
        assert got.keys() == values.keys()
        for key, vs in values.items():
            assert got[key]["requests"] == len(vs)
            assert got[key]["latency_p50_ms"] == pytest.approx(np.percentile(vs, 50), rel=1e-12)
            assert got[key]["latency_p95_ms"] == pytest.approx(np.percentile(vs, 95), rel=1e-12)
    finally:
        store.close()
