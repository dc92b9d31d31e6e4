"""The scale row: how the overview's cost grows with the store, 1 M → 10 M → 100 M calls.

    PYTHONPATH=src .venv/bin/python -m bench.scale [--sizes 1000000,10000000] [--runs 5]

For each size, a DuckDB store of its own (kept under --root, reused when it already holds the
calls) is seeded straight in SQL by `bench/seed_sql.py` (the calls, then their rollups; both
times printed), then a real `promptpulse serve` answers the 30-day overview over HTTP: exact
(`exact=true`, raw calls) and as the product serves it by default (from rollups once they hold
`rollup_min_calls`). Prints a table with medians of warm runs and a final `RESULT {json}` line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import httpx

from bench._common import Server, make_key
from bench.query import DAYS, END, timed
from bench.seed_sql import insert_calls, rebuild_rollups
from promptpulse.store.duck import DuckStore

START = END - timedelta(days=DAYS)


def seed(data_dir: Path, calls: int) -> dict[str, float]:
    """Seconds to insert the calls and to rebuild their rollups; zeros when already seeded."""
    path = data_dir / "events.duckdb"
    store = DuckStore(path, query_timeout_s=24 * 3600)
    try:
        have = store.execute("SELECT count(*) FROM events")[0][0]
        if have == calls:
            print(f"{calls:,}: already seeded in {data_dir}", flush=True)
            took = data_dir / "seeded.json"  # the seeding times of the run that made it
            old = json.loads(took.read_text()) if took.exists() else {}
            return {"insert_s": 0.0, "rollups_s": 0.0, **old, "reused": 1.0}
        if have:
            raise SystemExit(f"{path} holds {have:,} calls, not {calls:,}: remove it first")
        say = lambda line: print(f"  {line}", flush=True)  # noqa: E731
        began = time.perf_counter()
        insert_calls(store, "duckdb", 0, calls, START, timedelta(days=DAYS), say)
        inserted = time.perf_counter() - began
        rollups = rebuild_rollups(store, START, timedelta(days=DAYS), say)
        with store._cursor() as cur:
            cur.execute("CHECKPOINT")
        times = {"insert_s": inserted, "rollups_s": rollups}
        (data_dir / "seeded.json").write_text(json.dumps(times))
        return {**times, "reused": 0.0}
    finally:
        store.close()


def overview(data_dir: Path, runs: int) -> dict[str, float]:
    """Median ms of the 30-day overview, exact and default, and the server's memory."""
    key = make_key(data_dir, None, "admin")
    server = Server(data_dir)
    try:
        params = {"from": START.isoformat(), "to": END.isoformat()}
        with httpx.Client(
            base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            exact, _ = timed(client, "/v1/metrics/overview", {**params, "exact": "true"}, runs)
            default, approx = timed(client, "/v1/metrics/overview", params, runs)
        rss, peak = server.rss_mb()
    finally:
        server.stop()
    return {
        "overview_exact_ms": exact,
        "overview_default_ms": default,
        "default_from_rollups": float(approx),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }


def disk_mb(data_dir: Path) -> float:
    return sum(f.stat().st_size for f in data_dir.glob("events.duckdb*")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000", help="calls, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="warm runs per query (median)")
    parser.add_argument("--root", type=Path, default=Path("bench-data/scale"))
    parser.add_argument("--drop", action="store_true", help="delete each store after its row")
    args = parser.parse_args()
    rows = []
    for calls in (int(s) for s in args.sizes.split(",")):
        data_dir = args.root / f"calls-{calls}"
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"{calls:,} calls: seeding in {data_dir}", flush=True)
        row: dict[str, float] = {"calls": calls, **seed(data_dir, calls)}
        row["disk_mb"] = disk_mb(data_dir)
        row.update(overview(data_dir, args.runs))
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.drop:
            shutil.rmtree(data_dir, ignore_errors=True)
    print_table(rows, args.runs)
    print("RESULT " + json.dumps({"scale": rows}))


def print_table(rows: list[dict[str, float]], runs: int) -> None:
    print(f"\n30-day overview over HTTP, median of {runs} warm runs")
    head = f"{'calls':>12} {'insert s':>9} {'rollups s':>10} {'disk MB':>8} "
    print(head + f"{'exact ms':>9} {'default ms':>11} {'rollups?':>9} {'peak RSS':>9}")
    for r in rows:
        print(
            f"{int(r['calls']):>12,} {r['insert_s']:>9.0f} {r['rollups_s']:>10.0f} "
            f"{r['disk_mb']:>8.0f} {r['overview_exact_ms']:>9.0f} "
            f"{r['overview_default_ms']:>11.0f} "
            f"{'yes' if r['default_from_rollups'] else 'no':>9} {r['peak_rss_mb']:>8.0f}M"
        )


if __name__ == "__main__":
    main()
