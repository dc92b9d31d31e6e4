"""Rollups vs raw: a 13-month cost-and-p95-by-day query, and storage per million calls.

Two stores:
  * "sample": N_RAW calls (default 2 M) spread over 13 months, written as raw calls and rolled up
    from them (the migration's backfill path, then compaction). Gives raw and rollup query time
    on the same data, the largest percentile error seen, and bytes per million calls of each.
  * "represented": daily rollups synthesised for REPRESENTED calls (default 100 M) over the same
    13 months and dimension combinations, with the sketch-key spread 100 M lognormal latencies
    give (every key a day can hold, counts from the distribution). Gives the rollup query time
    at that scale; raw at that scale is extrapolated linearly from the sample (raw scans are
    linear in calls), and said to be.

    .venv/bin/python bench/rollups.py [--raw 2000000] [--represented 100000000]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from promptpulse.store.duck.rollup_plan import ROLLUP_DIMENSIONS

from promptpulse.model import CATALOG, Scope
from promptpulse.store.duck import DuckStore, sketch

END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=395)
METRICS = [CATALOG["cost_usd"], CATALOG["latency_p95_ms"]]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-2.5-pro"]
PROMPTS = ["support", "search", "summarise", "extract", "classify", "chat"]
COMBOS = [(p, m, s) for p in PROMPTS for m in MODELS for s in ("success", "error")]  # 48


def timed(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def fill_raw(path: Path, n: int) -> None:
    """n calls, uniform over the 13 months, written with SQL (the writer is benchmarked apart)."""
    from promptpulse.store.duck.migrations import MIGRATIONS

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    span = int((END - START).total_seconds())
    con.execute(
        f"""INSERT INTO events BY NAME SELECT 'bench' AS project, 'c' || i AS id,
        TIMESTAMP '{START.replace(tzinfo=None)}' + to_seconds(CAST(random() * {span} AS BIGINT))
          AS timestamp,
        ['support','search','summarise','extract','classify','chat'][1 + i % 6] AS prompt_id,
        'v1' AS prompt_version,
        ['gpt-4o','gpt-4o-mini','claude-3-5-sonnet','gemini-2.5-pro'][1 + (i // 6) % 4] AS model,
        'openai' AS provider, 'prod' AS environment, 'u' || (i % 5000) AS user_id,
        CASE WHEN random() < 0.05 THEN 'error' ELSE 'success' END AS status,
        exp(6.5 + 0.8 * sqrt(-2 * ln(random())) * cos(2 * pi() * random())) AS latency_ms,
        CAST(random() * 4000 AS BIGINT) AS input_tokens,
        CAST(random() * 800 AS BIGINT) AS output_tokens, 0 AS cached_tokens,
        0 AS reasoning_tokens, random() * 0.02 AS cost_usd, false AS cache_hit, 0 AS retries,
        now()::TIMESTAMP AS received_at
        FROM range({n}) t(i)"""
    )
    con.close()


def table_bytes(con: duckdb.DuckDBPyConnection, tables: list[str], tmp: Path, name: str) -> int:
    target = tmp / f"{name}.duckdb"
    con.execute(f"ATTACH '{target}' AS sizer")
    for t in tables:
        con.execute(f"CREATE TABLE sizer.{t} AS SELECT * FROM {t}")
    con.execute("DETACH sizer")
    return target.stat().st_size


def synthesise(store: DuckStore, represented: int) -> None:
    """Daily rollups (main + latency sketch) for `represented` calls: every combination, every
    day, the latency keys a lognormal(6.5, 0.8) sample of that size fills."""
    days = [START + timedelta(days=i) for i in range(395)]
    per_cell = represented / (len(days) * len(COMBOS))
    keys = np.arange(sketch.key_of(np.array([1.0]))[0], sketch.key_of(np.array([1e6]))[0] + 1)
    upper = sketch.value_of(keys) * (1 + sketch.ALPHA) / 1.0
    lower = np.r_[0.0, upper[:-1]]
    from scipy.stats import lognorm

    mass = lognorm.cdf(upper, 0.8, scale=math.exp(6.5)) - lognorm.cdf(
        lower, 0.8, scale=math.exp(6.5)
    )
    counts = np.round(mass * per_cell).astype(np.int64)
    keep = counts > 0
    keys, counts = keys[keep], counts[keep]
    cells = len(days) * len(COMBOS)
    naive = [d.replace(tzinfo=None) for d in days]
    bucket = np.repeat(np.array(naive, dtype="datetime64[us]"), len(COMBOS))
    combo = np.tile(np.arange(len(COMBOS)), len(days))
    dims = {d: pa.array([None] * cells, pa.string()) for d in ROLLUP_DIMENSIONS}
    dims["project"] = pa.array(["bench"] * cells)
    dims["prompt_id"] = pa.array([COMBOS[c][0] for c in combo])
    dims["model"] = pa.array([COMBOS[c][1] for c in combo])
    dims["status"] = pa.array([COMBOS[c][2] for c in combo])
    n_cell = int(counts.sum())
    main = {
        "bucket": pa.array(bucket),
        **dims,
        "compacted": pa.array([True] * cells),
        "a_count": pa.array([n_cell] * cells, pa.int64()),
        "a_sum_cost_usd": pa.array(np.full(cells, n_cell * 0.01)),
    }
    con = store._con
    con.register("m", pa.table(main))
    con.execute("INSERT INTO rollup_day BY NAME SELECT * FROM m")
    con.unregister("m")
    reps = len(keys)
    sk = {"bucket": pa.array(np.repeat(bucket, reps))}
    for d in ROLLUP_DIMENSIONS:
        sk[d] = pa.array(np.repeat(np.array(dims[d].to_pylist(), dtype=object), reps))
    sk["compacted"] = pa.array(np.ones(cells * reps, dtype=bool))
    sk["k"] = pa.array(np.tile(keys, cells).astype(np.int32))
    sk["n"] = pa.array(np.tile(counts, cells))
    con.register("s", pa.table(sk))
    con.execute("INSERT INTO rollup_day_q_latency_ms BY NAME SELECT * FROM s")
    con.unregister("s")
    print(
        f"  synthesised {cells:,} daily rows and {cells * reps:,} sketch rows "
        f"({n_cell * cells / 1e6:,.0f} M calls represented)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", type=int, default=2_000_000)
    ap.add_argument("--represented", type=int, default=100_000_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pp-bench-rollups-"))
    scope = Scope(START, END)

    print(f"sample: {args.raw:,} raw calls over 395 days")
    path = tmp / "sample.duckdb"
    fill_raw(path, args.raw)
    t = time.perf_counter()
    store = DuckStore(path, rollup_min_calls=0)  # the migration rolls the calls up
    print(f"  rollups built from raw in {time.perf_counter() - t:.1f} s")
    store.compact_rollups(END, timedelta(hours=1))

    def ask(min_calls: int):  # type: ignore[no-untyped-def]
        store.rollup_min_calls = min_calls
        return store.aggregate(scope, METRICS, (), "day", allow_approximate=True)

    raw_s = timed(lambda: ask(10**18), 3)
    roll_s = timed(lambda: ask(0))
    exact = {r["t"]: r for r in ask(10**18)}
    worst = max(
        abs(r["latency_p95_ms"] - exact[r["t"]]["latency_p95_ms"]) / exact[r["t"]]["latency_p95_ms"]
        for r in ask(0)
    )
    cost_err = max(abs(r["cost_usd"] - exact[r["t"]]["cost_usd"]) for r in ask(0))
    print(
        f"  cost + p95 by day, 13 months: raw {raw_s * 1000:.0f} ms, rollups "
        f"{roll_s * 1000:.1f} ms; worst p95 error {worst:.3%}, worst cost diff ${cost_err:.2e}"
    )
    con = store._con
    raw_b = table_bytes(con, ["events"], tmp, "raw")
    hour_b = table_bytes(
        con,
        [
            "rollup_hour",
            "rollup_hour_q_latency_ms",
            "rollup_hour_q_ttft_ms",
            "rollup_hour_hll_user_id",
        ],
        tmp,
        "hour",
    )
    day_b = table_bytes(
        con,
        ["rollup_day", "rollup_day_q_latency_ms", "rollup_day_q_ttft_ms", "rollup_day_hll_user_id"],
        tmp,
        "day",
    )
    per_m = 1e6 / args.raw
    print(
        f"  storage per million calls: raw {raw_b * per_m / 2**20:.1f} MiB, hourly rollups "
        f"{hour_b * per_m / 2**20:.1f} MiB, daily rollups {day_b * per_m / 2**20:.2f} MiB "
        "(rollups grow with dimension combinations per bucket, not calls)"
    )
    store.close()

    print(f"represented: {args.represented:,} calls in daily rollups")
    big = DuckStore(tmp / "represented.duckdb", rollup_min_calls=0)
    synthesise(big, args.represented)
    big_s = timed(lambda: big.aggregate(scope, METRICS, (), "day", allow_approximate=True))
    print(
        f"  cost + p95 by day, 13 months, from rollups: {big_s * 1000:.0f} ms "
        f"(target ≤ 100 ms); raw at that scale ≈ {raw_s * args.represented / args.raw:.0f} s "
        "(extrapolated from the sample)"
    )
    big.close()


if __name__ == "__main__":
    main()
