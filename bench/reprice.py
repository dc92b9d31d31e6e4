"""Repricing speed: the per-(project, provider, model, day) numpy plan against a stick, the
same calls priced one by one with `ingest.pricing.price_call` (what ingest does per call).

    .venv/bin/python -m bench.reprice [--calls 1000000] [--runs 5]

Prints the median calls/s of each and their ratio (the machine may be loaded: compare ratios).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from promptpulse.ingest.pricing import price_call
from promptpulse.model import PriceEntry, PriceOverride
from promptpulse.prices.plan import plan

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "gemini-2.5-pro", "my-finetune"]
DAY0 = datetime(2025, 6, 1)


def calls(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = np.datetime64(DAY0, "us") + (rng.uniform(0, 30 * 86400, n) * 1e6).astype("timedelta64[us]")
    inp = rng.integers(1, 20_000, n)
    return pa.table(
        {
            "project": pa.array(["p"] * n),
            "id": pa.array([str(i) for i in range(n)]),
            "timestamp": pa.array(ts),
            "provider": pa.array([None] * n, pa.string()),
            "model": pa.array([MODELS[i] for i in rng.integers(0, len(MODELS), n)]),
            "input_tokens": pa.array(inp),
            "cached_tokens": pa.array(inp // 3),
            "output_tokens": pa.array(rng.integers(0, 2_000, n)),
            "cache_write_tokens": pa.array(np.zeros(n, np.int64)),
            "cost_usd": pa.nulls(n, pa.float64()),
            "price_ref": pa.array([None] * n, pa.string()),
        }
    )


ENTRY = PriceEntry(
    1, "p", PriceOverride("my-finetune", 1.0, 2.0), datetime(2025, 6, 10, tzinfo=UTC)
)


def book(project: str, model: str, day: datetime) -> PriceEntry | None:
    return ENTRY if model == "my-finetune" and day >= datetime(2025, 6, 10) else None


def run_plan(table: pa.Table) -> float:
    began = time.perf_counter()
    plan(table, book)
    return table.num_rows / (time.perf_counter() - began)


def run_stick(table: pa.Table) -> float:
    rows = table.to_pylist()
    began = time.perf_counter()
    for r in rows:
        day = r["timestamp"].replace(hour=0, minute=0, second=0, microsecond=0)
        price_call(book, "p", None, r["model"], day, r["input_tokens"], r["cached_tokens"],
                   r["output_tokens"], 0)  # fmt: skip
    return len(rows) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    table = calls(args.calls)
    stick_table = table.slice(0, min(args.calls, 200_000))
    run_plan(table.slice(0, 1000))  # warm the genai-prices memo
    planned = [run_plan(table) for _ in range(args.runs)]
    stick = [run_stick(stick_table) for _ in range(args.runs)]
    p, s = statistics.median(planned), statistics.median(stick)
    print(f"plan (numpy, per group):  {p:12,.0f} calls/s  (median of {args.runs})")
    print(f"stick (price_call each):  {s:12,.0f} calls/s")
    print(f"ratio plan / stick:       {p / s:12.1f}x")


if __name__ == "__main__":
    main()
