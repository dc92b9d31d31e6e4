"""Rollup-served figures against raw-served ones on random data, in a real DuckDB file:
counts and sums exact, percentiles within 1 % relative, distinct users within the HLL's error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from promptpulse.model import (
    CATALOG,
    DERIVED_CALL_FIELDS,
    METRICS,
    Dimension,
    Filter,
    Kind,
    Metric,
    Scope,
)
from promptpulse.store import sketch
from promptpulse.store.duck import DuckStore
from tests.rollups.helpers import random_calls, write

T0 = datetime(2025, 3, 3, tzinfo=UTC)
# What rollups hold: streaming-speed percentiles have no sketch (always raw, tests/store).
SQL_METRICS = [
    m
    for m in METRICS
    if m.kind in (Kind.AGGREGATE, Kind.QUANTILE) and m.column not in DERIVED_CALL_FIELDS
]
RAW = 10**18  # rollup_min_calls that keeps every query on raw calls


def figures(
    store: DuckStore,
    scope: Scope,
    group_by: tuple[Dimension, ...],
    interval: str | None,
    rollups: bool,
) -> dict[tuple[object, ...], dict[str, object]]:
    store.rollup_min_calls = 0 if rollups else RAW
    try:
        rows = store.aggregate(scope, SQL_METRICS, group_by, interval, allow_approximate=True)
    finally:
        store.rollup_min_calls = 0
    assert all(r.approximate is rollups for r in rows)
    return {(r.t, r.key): r.values for r in rows}


def assert_close(got: dict, want: dict, where: object) -> None:
    assert got.keys() == want.keys(), where
    for key in want:
        for m in SQL_METRICS:
            g, w = got[key][m.name], want[key][m.name]
            if w is None or g is None:
                assert g is None and w is None, (where, key, m.name, g, w)
            elif m.kind is Kind.QUANTILE:
                assert abs(g - w) <= sketch.ALPHA * abs(w) + 1e-9, (where, key, m.name, g, w)
            elif m.name == "active_users":
                assert abs(g - w) <= max(2, 0.05 * w), (where, key, m.name, g, w)
            else:  # counts, sums, rates: exact (float sums up to summation order)
                assert g == pytest.approx(w, rel=1e-9, abs=1e-12), (where, key, m.name, g, w)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckStore]:
    s = DuckStore(Path(tmp_path_factory.mktemp("r")) / "events.duckdb", rollup_min_calls=0)
    rng = np.random.default_rng(7)
    write(s, random_calls(rng, 30_000, T0, T0 + timedelta(days=20), "alpha"))
    write(s, random_calls(rng, 5_000, T0 + timedelta(days=3), T0 + timedelta(days=9), "beta"))
    yield s
    s.close()


CASES = [
    # (range, group_by, interval, filters)
    ((T0, T0 + timedelta(days=20)), (), None, ()),
    ((T0 + timedelta(hours=5, minutes=17), T0 + timedelta(days=14, minutes=3)), (), "day", ()),
    (
        (T0 + timedelta(minutes=30), T0 + timedelta(days=2, hours=1)),
        (Dimension("model"),),
        "hour",
        (Filter("environment", ("prod",)),),
    ),
    (
        (T0 + timedelta(days=1, hours=3), T0 + timedelta(days=19)),
        (Dimension("prompt_id"),),
        "week",
        (Filter("status", ("success",)), Filter("project", ("alpha",))),
    ),
    ((T0 - timedelta(days=40), T0 + timedelta(days=60)), (Dimension("error_type"),), "month", ()),
    (
        (T0 + timedelta(days=2), T0 + timedelta(days=12)),
        (Dimension("project"),),
        None,
        (Filter("model", ("gpt-4o", "claude-3-5-sonnet")),),
    ),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_rollups_match_raw(store: DuckStore, case: int) -> None:
    (start, end), group_by, interval, filters = CASES[case]
    scope = Scope(start, end, filters)
    assert_close(
        figures(store, scope, group_by, interval, True),
        figures(store, scope, group_by, interval, False),
        case,
    )


def test_only_eligible_queries_use_rollups(store: DuckStore) -> None:
    scope = Scope(T0, T0 + timedelta(days=10))
    p95 = [CATALOG["latency_p95_ms"]]
    # A non-rollup dimension, a minute interval, or a caller that wants exact percentiles: raw.
    for rows in (
        store.aggregate(scope.with_filter("feature", ["f0"]), p95, allow_approximate=True),
        store.aggregate(scope, p95, (Dimension("user_id"),), allow_approximate=True),
        store.aggregate(scope, p95),
        store.aggregate(Scope(T0, T0 + timedelta(minutes=50)), p95, allow_approximate=True),
    ):
        assert not any(r.approximate for r in rows)
    assert store.aggregate(scope, p95, allow_approximate=True)[0].approximate is True
    # Counts alone are exact from rollups, so they are served from them for everyone.
    counts: list[Metric] = [CATALOG["requests"], CATALOG["cost_usd"]]
    assert store.aggregate(scope, counts)[0].approximate is False


def test_late_calls_compaction_and_rebuild(tmp_path: Path) -> None:
    s = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=0)
    try:
        rng = np.random.default_rng(11)
        write(s, random_calls(rng, 4_000, T0, T0 + timedelta(days=3), "p"))
        for _i in range(5):  # many small commits: many fragments per bucket
            write(s, random_calls(rng, 300, T0, T0 + timedelta(days=3), "p"))
        before = s.rollup_stats()
        assert before["hour"]["fragments"] == before["hour"]["rows"] > 0
        done = s.compact_rollups(T0 + timedelta(days=10), timedelta(hours=1))
        assert done["hour"] == 72 and done["day"] == 3
        after = s.rollup_stats()
        assert after["hour"]["fragments"] == 0 and after["hour"]["rows"] < before["hour"]["rows"]
        assert after["hour"]["calls"] == before["hour"]["calls"] == 5_500
        # A late call lands in a compacted day: folded in at once, compacted on the next pass.
        write(s, random_calls(rng, 50, T0 + timedelta(hours=5), T0 + timedelta(hours=6), "p"))
        scope = Scope(T0, T0 + timedelta(days=3))
        assert_close(
            figures(s, scope, (), "day", True), figures(s, scope, (), "day", False), "late"
        )
        assert s.compact_rollups(T0 + timedelta(days=10), timedelta(hours=1))["hour"] == 1
        # Damage the rollups, then rebuild them from raw calls.
        s._con.execute("DELETE FROM rollup_day WHERE bucket = ?", [T0.replace(tzinfo=None)])
        broken = figures(s, scope, (), "day", True)
        assert sum(r["requests"] for r in broken.values()) < 5_550
        assert s.rebuild_rollups(T0, T0 + timedelta(days=3)) == {"p": 5_550}
        assert_close(
            figures(s, scope, (), "day", True), figures(s, scope, (), "day", False), "rebuilt"
        )
    finally:
        s.close()


def test_migration_backfills_rollups_of_an_old_database(tmp_path: Path) -> None:
    """A database made before rollups existed gets them from its calls at start-up."""
    import duckdb

    from promptpulse.store.duck.migrations import MIGRATIONS

    path = tmp_path / "events.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    calls = random_calls(np.random.default_rng(3), 2_000, T0, T0 + timedelta(days=4), "old")
    # The columns migrations 4 and 6 added did not exist yet.
    calls = calls.drop_columns(["response_model", "cache_write_tokens", "price_ref"])
    con.register("c", calls)
    con.execute("INSERT INTO events BY NAME SELECT * FROM c")
    con.close()
    s = DuckStore(path, rollup_min_calls=0)
    try:
        assert s.rollup_stats()["day"]["calls"] == 2_000
        scope = Scope(T0, T0 + timedelta(days=4))
        assert_close(
            figures(s, scope, (Dimension("model"),), "day", True),
            figures(s, scope, (Dimension("model"),), "day", False),
            "migrated",
        )
    finally:
        s.close()


def test_migration_makes_stored_provider_names_canonical(tmp_path: Path) -> None:
    """Calls (and their rollups) stored under raw provider names before migration 5."""
    import duckdb
    import pyarrow as pa

    from promptpulse.store.duck.migrations import MIGRATIONS

    path = tmp_path / "events.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    calls = random_calls(np.random.default_rng(4), 1_000, T0, T0 + timedelta(days=2), "old")
    raw = ["openai.chat", "gcp.gen_ai", "OpenAI-custom", "anthropic.messages"]
    names = pa.array([raw[i % 4] for i in range(calls.num_rows)])
    calls = calls.set_column(calls.schema.get_field_index("provider"), "provider", names)
    calls = calls.drop_columns(["response_model", "cache_write_tokens", "price_ref"])
    con.register("c", calls)
    con.execute("INSERT INTO events BY NAME SELECT * FROM c")
    con.close()
    s = DuckStore(path, rollup_min_calls=0)  # migrations 2 (rollups) to 5 run here
    try:
        scope = Scope(T0, T0 + timedelta(days=2))
        by_provider = (Dimension("provider"),)
        exact = figures(s, scope, by_provider, "day", False)
        providers = {k[1] if isinstance(k[1], str) else k[1][0] for k in exact}
        assert providers == {"openai", "google", "OpenAI-custom", "anthropic"}  # unknown: kept
        assert_close(figures(s, scope, by_provider, "day", True), exact, "renamed")
    finally:
        s.close()


def test_sketch_quantiles_bound_against_numpy() -> None:
    rng = np.random.default_rng(5)
    for sample in (
        rng.lognormal(5, 2, 50_000),
        rng.pareto(1.2, 20_000) * 10,
        np.r_[np.zeros(30), rng.uniform(0.001, 1e6, 500)],
        np.array([42.0]),
    ):
        keys, counts = np.unique(sketch.key_of(sample), return_counts=True)
        qs = [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]
        got = sketch.quantiles(keys, counts, qs)
        assert got is not None
        want = np.percentile(sample, [q * 100 for q in qs])
        assert np.all(np.abs(np.array(got) - want) <= sketch.ALPHA * want + 1e-12)
    assert sketch.quantiles(np.array([]), np.array([]), [0.5]) is None


def test_hll_estimate_error() -> None:
    rng = np.random.default_rng(9)
    for n in (1, 10, 1_000, 40_000, 300_000):
        hashes = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
        reg, rank = sketch.hll_registers(hashes)
        best = np.zeros(sketch.HLL_M)
        np.maximum.at(best, reg, rank)
        est = sketch.hll_estimate(best[best > 0])
        assert abs(est - n) <= max(1, 0.03 * n), (n, est)
