"""Prompt-version change markers at scale, in-process through the store door: `version_starts`
(the first stored call of each prompt version, over all history before the range ends) for the
last day and the last 30 days of 30 days of calls (median of warm runs, ms), for one backend per
run. The dashboard asks for it once per refresh.

    .venv/bin/python -m bench.markers [--backend duckdb|chdb] [--calls 2000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np

from bench.store_backends import DAYS, END, calls, timed
from promptpulse.config import Settings
from promptpulse.model import Filter, Scope
from promptpulse.store import Store, open_store


def run(backend: str, n_calls: int, runs: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-markers-{backend}-"))
    url = f"chdb:///{root / 'ch'}" if backend == "chdb" else None
    store: Store = open_store(Settings(data_dir=root, store_url=url, query_timeout_s=3600))
    rng = np.random.default_rng(7)
    w = store.writer()
    for i in range(0, n_calls, 200_000):
        batch = calls(rng, min(200_000, n_calls - i), i)
        insert = getattr(store, "insert", None)  # the ClickHouse store's (no import here)
        if insert is not None:
            insert("events", batch)
            continue
        w.begin()
        w.insert_events(batch)
        w.commit()
    day = Scope(END - timedelta(days=1), END)
    month = Scope(END - timedelta(days=DAYS), END)
    one_project = Scope(day.start, day.end, (Filter("project", ("bench",)),))
    out = {
        "last_day_ms": timed(lambda: store.version_starts(day), runs),
        "last_30_days_ms": timed(lambda: store.version_starts(month), runs),
        "last_day_one_project_ms": timed(lambda: store.version_starts(one_project), runs),
        "markers_30_days": float(len(store.version_starts(month))),
    }
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="duckdb", choices=("duckdb", "chdb"))
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    a = parser.parse_args()
    print(json.dumps({"backend": a.backend, "calls": a.calls, **run(a.backend, a.calls, a.runs)}))


if __name__ == "__main__":
    main()
