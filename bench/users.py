"""The Users queries at scale, in-process through the store door: DAU/WAU/MAU per day and per
week, day-1/7/30 retention and the top users, over 30 days of calls from many users (median of
warm runs, ms), for one backend per run.

    .venv/bin/python -m bench.users [--backend duckdb|chdb] [--calls 2000000] [--users 50000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.store_backends import DAYS, END, calls, rss_mb, timed
from promptpulse.config import Settings
from promptpulse.model import CATALOG, Dimension, Scope
from promptpulse.store import Store, open_store


def with_users(table: pa.Table, rng: np.random.Generator, users: int) -> pa.Table:
    """The calls' user_id drawn from `users` users: a heavy head (Zipf) and a long tail, so most
    users are active on a few days and some on every day (many distinct user-days)."""
    n = table.num_rows
    ids = np.where(rng.random(n) < 0.5, rng.zipf(1.2, n) % users, rng.integers(0, users, n))
    i = table.schema.get_field_index("user_id")
    return table.set_column(i, "user_id", pa.array([f"user-{k}" for k in ids]))


def run(backend: str, n_calls: int, users: int, runs: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-users-{backend}-"))
    url = f"chdb:///{root / 'ch'}" if backend == "chdb" else None
    store: Store = open_store(Settings(data_dir=root, store_url=url, query_timeout_s=3600))
    rng = np.random.default_rng(7)
    w = store.writer()
    for i in range(0, n_calls, 200_000):
        batch = with_users(calls(rng, min(200_000, n_calls - i), i), rng, users)
        insert = getattr(store, "insert", None)  # the ClickHouse store's (no import here)
        if insert is not None:
            insert("events", batch)
            continue
        w.begin()
        w.insert_events(batch)
        w.commit()
    scope = Scope(END - timedelta(days=DAYS), END)
    top = [CATALOG[m] for m in ("requests", "errors", "cost_usd")]
    out = {
        "activity_day_ms": timed(lambda: store.user_activity(scope, "day"), runs),
        "activity_week_ms": timed(lambda: store.user_activity(scope, "week"), runs),
        "retention_ms": timed(lambda: store.user_retention(scope), runs),
        "top_users_ms": timed(lambda: store.aggregate(scope, top, [Dimension("user_id")]), runs),
        "mau_last_day": float(store.user_activity(scope, "day")[-1].mau),
        "rss_mb": rss_mb()[0],
    }
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="duckdb", choices=("duckdb", "chdb"))
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    a = parser.parse_args()
    result = run(a.backend, a.calls, a.users, a.runs)
    print(json.dumps({"backend": a.backend, "calls": a.calls, "users": a.users, **result}))


if __name__ == "__main__":
    main()
