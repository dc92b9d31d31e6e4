"""The two-pass exact percentile against numpy.percentile on random samples of many shapes."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from promptpulse.store.duck.quantiles import exact_quantiles

QS = [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]


def _table(con: duckdb.DuckDBPyConnection, x: np.ndarray) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE events AS SELECT unnest(?::DOUBLE[]) AS v, "
        "TIMESTAMP '2026-01-01' AS timestamp",
        [x.tolist()],
    )


def sample(rng: np.random.Generator, shape: str, n: int) -> np.ndarray:
    if shape == "lognormal":
        return rng.lognormal(6, 1.2, n)
    if shape == "ties":
        return rng.integers(0, 4, n).astype(float)
    if shape == "sub-unit":
        return rng.uniform(0, 1, n)  # every value in one bucket
    if shape == "cents":
        return np.round(rng.exponential(300, n), 2)
    if shape == "huge":
        return rng.uniform(0, 1, n) * 1e17  # beyond 2**52: the equality fetch path
    if shape == "negative":
        return rng.normal(0, 50, n)
    return rng.uniform(0, 100, n)


@pytest.mark.parametrize("shape", ["lognormal", "ties", "sub-unit", "cents", "huge", "one"])
def test_matches_numpy(shape: str) -> None:
    rng = np.random.default_rng(abs(hash(shape)) % 2**32)
    con = duckdb.connect()
    for _ in range(25):
        n = 1 if shape == "one" else int(rng.integers(2, 4000))
        x = sample(rng, shape, n)
        _table(con, x)
        got = exact_quantiles(con, "TRUE", [], "v", QS)
        assert got == pytest.approx(np.percentile(x, [q * 100 for q in QS]), rel=1e-12, abs=0)


def test_nulls_are_ignored_and_empty_is_none() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events AS SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE i END::DOUBLE "
        "AS v, TIMESTAMP '2026-01-01' AS timestamp FROM range(100) t(i)"
    )
    values = np.array([i for i in range(100) if i % 3], dtype=float)
    assert exact_quantiles(con, "TRUE", [], "v", [0.5, 0.95]) == pytest.approx(
        np.percentile(values, [50, 95])
    )
    assert exact_quantiles(con, "v > 1000", [], "v", [0.5]) is None


def test_exact_true_never_answers_from_rollups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With rollups allowed from the first call, a long range is approximate unless exact=true."""
    from datetime import UTC, datetime, timedelta

    from tests.conftest import iso, start_server, stop_server

    server, thread, live = start_server(tmp_path, rollup_min_calls=1)
    try:
        key = live.key("p")
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        rng = np.random.default_rng(5)
        latencies = rng.lognormal(6, 1, 3000)
        users = rng.integers(0, 700, len(latencies))
        events = [
            {
                "timestamp": iso(t0 + timedelta(minutes=i)),
                "model": "m",
                "latency_ms": float(x),
                "user_id": f"u{u}",
                "output_tokens": int(u),
            }
            for i, (x, u) in enumerate(zip(latencies, users, strict=True))
        ]
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": events}).status_code == 200
            rng_params = {"from": iso(t0), "to": iso(t0 + timedelta(days=3))}
            exact = c.get("/v1/metrics/overview", params={**rng_params, "exact": "true"}).json()
            assert "approximate" not in exact
            assert exact["latency_ms"]["p95"] == pytest.approx(np.percentile(latencies, 95))
            assert exact["active_users"] == len(set(users.tolist()))
            assert exact["requests"] == len(latencies)
            assert exact["tokens"]["output"] == int(users.sum())
            default = c.get("/v1/metrics/overview", params=rng_params).json()
            assert default["approximate"] is True  # the same range from rollup sketches
            assert default["requests"] == len(latencies)
            assert default["latency_ms"]["p95"] == pytest.approx(
                np.percentile(latencies, 95), rel=0.01
            )
            bad = c.get("/v1/metrics/overview", params={**rng_params, "exact": "maybe"})
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "exact"
    finally:
        stop_server(server, thread)
