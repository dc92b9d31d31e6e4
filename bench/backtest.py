"""Backtest cost: 30 days at 1-minute steps (43,200 evaluations) over a seeded store.

    .venv/bin/python bench/backtest.py [--events 1000000]

Seeds the event store directly (bench/query.py's 30 days), then times each backtest in-process:
the read of the scope's calls (one query) and the simulated evaluation rounds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.query import DAYS, END, seed
from promptpulse.alerts import RuleIn, backtest_rule
from promptpulse.budgets import BudgetIn, backtest_budget
from promptpulse.slos import SloIn, backtest_slo
from promptpulse.store.duck import DuckStore

ONE = {"prompt_id": "prompt-7"}
CASES: list[tuple[str, Any, dict[str, Any], timedelta]] = [
    ("rule error_rate > 5 %, one prompt", backtest_rule, {"metric": "error_rate",
     "operator": ">", "threshold": 0.05, "window": "5m", "for": "2m", "filters": ONE},
     timedelta(minutes=1)),
    ("rule p95 latency > 2 s, all calls", backtest_rule, {"metric": "latency_p95_ms",
     "operator": ">", "threshold": 2000, "window": "5m"}, timedelta(minutes=1)),
    ("rule p95 by model (group_by)", backtest_rule, {"metric": "latency_p95_ms",
     "operator": ">", "threshold": 2500, "window": "10m", "group_by": "model"},
     timedelta(minutes=1)),
    ("rule requests anomaly (4 weeks)", backtest_rule, {"template": "traffic_drop",
     "filters": ONE}, timedelta(minutes=1)),
    ("budget month, all calls (1 h steps)", backtest_budget, {"amount": 1000}, timedelta(hours=1)),
    ("SLO success 99.5 % (5 m steps)", backtest_slo, {"objective": 0.995}, timedelta(minutes=5)),
]  # fmt: skip
MODELS = {backtest_rule: RuleIn, backtest_budget: BudgetIn, backtest_slo: SloIn}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--only", default="", help="Run the cases whose name contains this")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seed(Path(tmp), args.events)
        store = DuckStore(Path(tmp) / "events.duckdb", query_timeout_s=600)
        start = END - timedelta(days=DAYS - 1)  # look-backs stay inside the seeded days
        for name, run, body, step in [c for c in CASES if args.only in c[0]]:
            spec = MODELS[run].model_validate({"name": name, **body})
            t = time.perf_counter()
            got = run(store, spec, start, END, step, END)
            took = time.perf_counter() - t
            print(f"{name:40s} {took:6.2f} s  {got['steps']:6,} steps  {got['calls']:9,} calls"
                  f"  step {got['step']}{' (coarsened)' if got['coarsened'] else ''}"
                  f"  {got['count']} firings")  # fmt: skip
        store.close()


if __name__ == "__main__":
    main()
