"""The two event stores side by side, in-process through the store door (no HTTP): ingest
through the real single writer (events/s, ack p99 of 1,000-call batches), then exact and
rollup-served overview, hourly series and breakdown over the stored calls (median of warm
runs), and the process's resident memory. Each backend runs in a process of its own.

    .venv/bin/python -m bench.store_backends [--calls 1000000] [--ingest 100000] [--runs 5]
        [--seed-sql] [--backends duckdb,chdb]

With --seed-sql the calls beyond --ingest are made in SQL inside the engine (bench/seed_sql.py,
the same distributions): the way to 10 M and 100 M; seed_s is how long seeding took. With
--existing DIR the queries run over a DuckDB data directory seeded before (`bench.scale` keeps
its stores under bench-data/scale/calls-N), without seeding it again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.seed_sql import seed
from promptpulse.config import Settings
from promptpulse.ingest.writer import Writer
from promptpulse.model import CALL_SCHEMA, METRICS, Dimension, Kind, Scope
from promptpulse.store import Store, open_store

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
SQL_METRICS = [m for m in METRICS if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
MODELS = np.array(["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gemini-2.0-flash", "llama"])


def calls(rng: np.random.Generator, n: int, offset: int) -> pa.Table:
    """n realistic calls spread over the 30 days, ids e<offset>.."""
    start_us = int((END - timedelta(days=DAYS)).timestamp() * 1e6)
    ts = np.sort(rng.integers(start_us, start_us + DAYS * 86_400_000_000, n))
    model = MODELS[rng.integers(0, len(MODELS), n)]
    error = rng.random(n) < 0.025
    none = pa.nulls(n, pa.string())
    cols = {
        "project": pa.array(np.where(rng.random(n) < 0.7, "bench", "other")),
        "id": pa.array([f"e{offset + i}" for i in range(n)]),
        "timestamp": pa.array(ts, pa.timestamp("us")),
        "prompt_id": pa.array([f"prompt-{k}" for k in rng.integers(0, 40, n)]),
        "prompt_version": pa.array([f"v{k}" for k in rng.integers(0, 4, n)]),
        "model": pa.array(model),
        "provider": pa.array(np.where(np.char.startswith(model, "gpt"), "openai", "other")),
        "environment": pa.array(np.where(rng.random(n) < 0.1, "staging", "production")),
        "feature": pa.array([f"f{k}" for k in rng.integers(0, 8, n)]),
        "user_id": pa.array([f"user-{k}" for k in rng.integers(0, 5000, n)]),
        "session_id": none, "service": none,
        "tags": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
        "metadata": pa.array(np.where(rng.random(n) < 0.5, '{"tier":"pro"}', '{"tier":"free"}')),
        "status": pa.array(np.where(error, "error", "success")),
        "error_type": pa.array(np.where(error, "timeout", None)),
        "error_message": none,
        "http_status": pa.nulls(n, pa.int16()),
        "latency_ms": pa.array(rng.lognormal(6.5, 0.7, n).round(2)),
        "ttft_ms": pa.array(np.where(rng.random(n) < 0.3, rng.uniform(50, 950, n), np.nan), from_pandas=True),
        "queue_ms": pa.nulls(n, pa.float64()),
        "input_tokens": pa.array(rng.integers(200, 3200, n)),
        "output_tokens": pa.array(rng.integers(20, 620, n)),
        "cached_tokens": pa.array(np.zeros(n, np.int64)),
        "reasoning_tokens": pa.array(np.zeros(n, np.int64)),
        "cache_write_tokens": pa.array(np.zeros(n, np.int64)),
        "cost_usd": pa.array(rng.uniform(0, 0.01, n)),
        "cache_hit": pa.array(rng.random(n) < 0.05),
        "retries": pa.array(np.zeros(n, np.int32)),
        "received_at": pa.array(ts, pa.timestamp("us")),
    }  # fmt: skip
    cols["response_model"] = pa.nulls(n, pa.string())
    cols["price_ref"] = pa.array(["client"] * n)  # the sender gave the cost
    return pa.table({f: cols[f] for f in CALL_SCHEMA.names}, schema=CALL_SCHEMA)


def rss_mb() -> tuple[float, float]:
    fields = dict(
        line.split(":", 1)
        for line in Path("/proc/self/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _seed_batches(store: Store, rng: np.random.Generator, n_ingest: int, n_calls: int) -> None:
    """The rest in large batches straight into the store (seeding, not measured): ClickHouse's
    insert (its views build the rollups), DuckDB's writer (it writes rollups through)."""
    w = store.writer()
    for i in range(n_ingest, n_calls, 200_000):
        batch = calls(rng, min(200_000, n_calls - i), i)
        insert = getattr(store, "insert", None)  # the ClickHouse store's (no import here)
        if insert is not None:
            insert("events", batch)
            continue
        w.begin()
        w.insert_events(batch)
        w.commit()


def run(
    backend: str, n_calls: int, n_ingest: int, runs: int, seed_sql: bool = False
) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    url = f"chdb:///{root / 'ch'}" if backend == "chdb" else None
    store: Store = open_store(Settings(data_dir=root, store_url=url, query_timeout_s=3600))
    out: dict[str, float] = {}
    rng = np.random.default_rng(7)
    # Ingest through the real writer: 1,000-call batches, one request at a time.
    writer = Writer(store)
    writer.start()
    acks = []
    started = time.perf_counter()
    for i in range(0, n_ingest, 1000):
        batch = calls(rng, 1000, i)
        t = time.perf_counter()
        writer.write_sync("events", batch)
        acks.append(time.perf_counter() - t)
    out["ingest_events_per_s"] = n_ingest / (time.perf_counter() - started)
    out["ack_p99_ms"] = float(np.percentile(acks, 99) * 1000)
    writer.stop()
    started = time.perf_counter()
    if seed_sql:  # the rest in SQL inside the engine (bench/seed_sql.py): 10 M / 100 M
        seed(store, backend, n_ingest, n_calls - n_ingest, END - timedelta(days=DAYS),
             timedelta(days=DAYS), lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
    else:
        _seed_batches(store, rng, n_ingest, n_calls)
    store.compact_rollups(END + timedelta(days=1), timedelta(hours=1))
    out["seed_s"] = time.perf_counter() - started
    out.update(queries(store, runs))
    store.close()
    shutil.rmtree(root, ignore_errors=True)  # ~700 MB at 10 M calls
    return out


def queries(store: Store, runs: int, skip: frozenset[str] = frozenset()) -> dict[str, float]:
    """Overview, hourly series and breakdown by model over the 30 days, exact then from
    rollups (median of warm runs, ms; `skip`: names left out, NaN); the process's memory;
    the calls stored."""
    out: dict[str, float] = {}
    scope = Scope(END - timedelta(days=DAYS), END)
    for mode, min_calls in (("exact", 10**18), ("rollup", 0)):
        store.rollup_min_calls = min_calls  # type: ignore[attr-defined]
        approx = mode == "rollup"
        asked = {
            f"overview_{mode}_ms": lambda approx=approx: store.aggregate(
                scope, SQL_METRICS, allow_approximate=approx
            ),
            f"hourly_{mode}_ms": lambda approx=approx: store.aggregate(
                scope, SQL_METRICS, (), "hour", approx
            ),
            f"breakdown_{mode}_ms": lambda approx=approx: store.aggregate(
                scope, SQL_METRICS, [Dimension("model")], None, approx
            ),
        }
        for name, query in asked.items():
            out[name] = float("nan") if name in skip else timed(query, runs)
            print(name, out[name], file=sys.stderr, flush=True)
    out["rss_mb"], out["peak_rss_mb"] = rss_mb()
    out["calls"] = store.row_counts()["calls"]
    return out


def existing(
    data_dir: Path, runs: int, memory_limit: str, skip: frozenset[str]
) -> dict[str, float]:
    """The queries over a DuckDB data directory seeded before (`bench.scale --root` keeps its
    stores): no ingest, no seeding. At 100 M calls the exact hourly series' per-hour percentiles
    did not fit the memory limit before they were computed in two passes per hour (503)."""
    settings = Settings(data_dir=data_dir, query_timeout_s=3600, duckdb_memory_limit=memory_limit)
    store = open_store(settings)
    try:
        store.execute("SET max_temp_directory_size = '20GB'")  # type: ignore[attr-defined]
        return queries(store, runs, skip)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--ingest", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=["duckdb", "chdb"])
    parser.add_argument("--backends", default="duckdb,chdb", help="which, in this order")
    parser.add_argument("--seed-sql", action="store_true", help="seed in SQL (10 M / 100 M)")
    parser.add_argument("--existing", type=Path, help="a seeded DuckDB data dir: queries only")
    parser.add_argument("--memory-limit", default="400MB", help="DuckDB's, with --existing")
    parser.add_argument("--skip", default="", help="with --existing: e.g. hourly_exact_ms")
    args = parser.parse_args()
    if args.existing:
        skip = frozenset(n for n in args.skip.split(",") if n)
        print(json.dumps(existing(args.existing, args.runs, args.memory_limit, skip)))
        return
    if args.backend:
        print(json.dumps(run(args.backend, args.calls, args.ingest, args.runs, args.seed_sql)))
        return
    results = {}
    for backend in args.backends.split(","):
        cmd = [sys.executable, "-m", "bench.store_backends", "--backend", backend,
               "--calls", str(args.calls), "--ingest", str(args.ingest), "--runs", str(args.runs)]  # fmt: skip
        cmd += ["--seed-sql"] if args.seed_sql else []
        # stderr passes through: the seeding's progress shows while it runs
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        results[backend] = json.loads(out.strip().splitlines()[-1])
        print(backend, json.dumps(results[backend]), flush=True)  # each as soon as it is done
    names = {"duckdb": "DuckDB", "chdb": "ClickHouse (chdb)"}
    print(f"{'':24}" + "".join(f"{names[b]:>20}" for b in results))
    for key in next(iter(results.values())):
        print(f"{key:24}" + "".join(f"{results[b][key]:>20,.1f}" for b in results))


if __name__ == "__main__":
    main()
