"""The performance table (issue 12): each row as a ratio to a bare-engine stick measured in the
same run, medians of several runs, stick and PromptPulse alternating.

    PYTHONPATH=src .venv/bin/python -m bench.perf [--runs 3] [--calls 10000000]
        [--rows ingest,ack,query,dashboard] [--json] [--rounds bench-data/perf-rounds.json]
        [--ingest-client wrk|python] [--ack-rate 30000]

Sticks: `../shared/bench` (bare Python + DuckDB pipelines), run in a scratch venv under
~/.cache/promptpulse-bench made on first use, and `wrk` (apt-get install -y wrk). Ours:
`bench.ingest`, `bench.ack_latency`, `bench.query` and `bench.dashboard` as subprocesses, each
read from the `RESULT {json}` line it prints last. Rows:

    ingest     stick: ingest_limit.py (wrk, 16 conns)   ours: bench.ingest_wrk, the same load
               generator (wrk, 16 conns, rotating distinct 1,000-event bodies); with
               --ingest-client python, bench.ingest's 8 Python clients (the table's figures up
               to 2026-12-04: on 2 cores that client takes ~8-10 us of CPU a call from the
               server that the stick's wrk does not, so it measures the client as well); the
               stick's ack p99 is read from its wrk output too
    ack        both: bench.ack_latency, the ack p50/p99 at a fixed offered load below the
               ceiling (--ack-rate events/s, open loop: each ack timed from when it was due)
    query      stick: query_limit.py's overview_30d and timeseries_hour_30d SQL on a bulk-loaded
               DuckDB file; ours: bench.query over HTTP (also the breakdown rows and the RSS)
    dashboard  ours only: bench.dashboard in Chromium (page drawn, Live latency)

Stores are seeded once and kept (bench-data/, the stick's ~/.cache/promptpulse-bench/perf).
The machine is shared: the header prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import ROOT, cpu_model
from bench._perf_table import build_rows, format_table, medians, parse_result, table_json
from bench._sticks import Sticks

ROWS = ("ingest", "ack", "query", "dashboard")
# Which of each script's RESULT figures the table reads (scripts report more).
OURS_KEYS = {
    "ingest": ("events_per_s", "ack_p99_ms"),
    "ack": ("ack_open_p50_ms", "ack_open_p99_ms", "ack_open_rate"),
    "query": ("overview_exact_ms", "hourly_exact_ms", "breakdown_column_exact_ms",
              "breakdown_metadata_exact_ms", "overview_default_ms", "idle_rss_mb", "peak_rss_mb"),
    "dashboard": ("live_median_ms", "page_drawn_median_ms"),
}  # fmt: skip


def ours(module: str, *args: str, timeout: float = 3600) -> dict[str, Any]:
    """Run one of our bench scripts and return its RESULT figures."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return parse_result(proc.stdout)


def pick(figures: dict[str, Any], row: str) -> dict[str, Any]:
    return {f"ours.{k}": figures[k] for k in OURS_KEYS[row] if k in figures}


def run_row(row: str, args: argparse.Namespace, sticks: Sticks) -> list[dict[str, Any]]:
    """`args.runs` rounds of (stick, ours) for one row; each round's figures in one dict."""
    stick: Callable[[], dict[str, float]] | None = None
    mine: tuple[str, ...]
    calls = str(args.calls)
    if row == "ingest":
        stick = lambda: sticks.ingest(args.ingest_seconds)  # noqa: E731
        mine = (
            ("bench.ingest_wrk", "--ours-only", "--seconds", str(args.ingest_seconds))
            if args.ingest_client == "wrk"
            else ("bench.ingest", "--clients", "8", "--batches", str(args.ingest_batches))
        )
    elif row == "ack":
        load = ("--rate", str(args.ack_rate), "--seconds", str(args.ingest_seconds))
        stick = lambda: ours("bench.ack_latency", "--stick-only", *load)  # noqa: E731
        mine = ("bench.ack_latency", "--ours-only", *load)
    elif row == "query":
        db = sticks.prepare_queries(args.calls)
        stick = lambda: sticks.queries(db, args.query_runs)  # noqa: E731
        data = f"bench-data/query-{args.calls}"
        mine = (
            "bench.query",
            "--events",
            calls,
            "--data-dir",
            data,
            "--runs",
            str(args.query_runs),
        )
    else:
        data = f"bench-data/dash-{args.calls}"
        mine = ("bench.dashboard", "--events", calls, "--days", "30", "--range", "30d",
                "--data-dir", data, "--runs", "5", "--live-runs", "10")  # fmt: skip
    rounds = []
    for i in range(args.runs):
        figures: dict[str, Any] = {"row": row}
        if stick is not None:
            say(f"{row}: stick, run {i + 1}/{args.runs}")
            figures.update({f"stick.{k}": v for k, v in attempt(stick).items()})
        say(f"{row}: PromptPulse, run {i + 1}/{args.runs}")
        figures.update(pick(attempt(lambda: ours(*mine)), row))
        say(f"{row}: {figures}")
        rounds.append(figures)
    return rounds


def attempt(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One run's figures, or none when it failed (the median is then over the other runs)."""
    try:
        return run()
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        say(f"  failed, left out of the medians: {e}")
        return {}


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = (
        " (with uncommitted changes)" if git("status", "--porcelain", "--", "src").strip() else ""
    )
    return git("rev-parse", "--short", "HEAD").strip() + dirty


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of stick + ours per row")
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls in the query stores")
    parser.add_argument("--rows", default=",".join(ROWS), help="which rows: " + ",".join(ROWS))
    parser.add_argument("--json", action="store_true", help="print the whole table as JSON")
    parser.add_argument("--ingest-seconds", type=int, default=15, help="the ingest stick's load")
    parser.add_argument("--ingest-batches", type=int, default=300, help="ours: 1,000-event bodies")
    parser.add_argument(
        "--ingest-client",
        choices=("wrk", "python"),
        default="wrk",
        help="ours' load: wrk like the stick's (bench.ingest_wrk), or bench.ingest's 8 Python "
        "clients (the figures before 2026-12-04 evening)",
    )
    parser.add_argument(
        "--ack-rate", type=int, default=30_000, help="the ack row's offered load, events/s"
    )
    parser.add_argument("--query-runs", type=int, default=5, help="warm runs per query (median)")
    parser.add_argument("--rounds", type=Path, help="JSON file: rounds kept for later runs")
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    if unknown := set(rows) - set(ROWS):
        parser.error(f"--rows: unknown {', '.join(sorted(unknown))}; known: {', '.join(ROWS)}")
    sticks = Sticks()
    sticks.ensure(need_wrk="ingest" in rows)
    machine = {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "commit": commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "calls in the query stores": f"{args.calls:,}",
        "runs per row": str(args.runs),
        "load average at start (1, 5, 15 min)": load(),
    }
    # Rounds of rows not run this time come from --rounds (a resumed or partial run).
    saved = json.loads(args.rounds.read_text()) if args.rounds and args.rounds.exists() else []
    rounds: list[dict[str, Any]] = [r for r in saved if r.get("row") not in rows]
    if kept := sorted({str(r["row"]) for r in rounds}):
        machine["rows kept from an earlier run (--rounds)"] = ", ".join(kept)
    started = time.monotonic()
    for row in rows:
        rounds += run_row(row, args, sticks)  # each key comes from one row's rounds
        if args.rounds:
            args.rounds.write_text(json.dumps(rounds, indent=1))
    machine["load average at end"] = load()
    machine["took"] = f"{time.monotonic() - started:.0f} s"
    m = medians(rounds)
    table = build_rows(m)
    print(table_json(table, machine, m) if args.json else format_table(table, machine))


if __name__ == "__main__":
    main()
