"""The Overview page's API calls over HTTP, each alone and all at once as the page sends them:
where the page's API phase goes.

    PYTHONPATH=src .venv/bin/python -m bench.page_calls [--data-dir bench-data/dash-10000000]
        [--range 30d] [--runs 5]

Serves a data directory seeded by `bench.dashboard` (kept; not changed) with a real
`promptpulse serve`, asks each of the eight requests the Overview sends (the same parameters
as `web/static/js/pages/overview.js`, the range ending now) and prints the median of warm runs
per request, whether it came from rollups (`approximate`), then the median time for all eight
sent together. The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from bench._common import Server, cpu_model, make_key, overview_requests

RANGES = {"24h": (timedelta(days=1), "hour"), "7d": (timedelta(days=7), "day"),
          "30d": (timedelta(days=30), "day")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data/dash-10000000"))
    parser.add_argument("--range", choices=sorted(RANGES), default="30d")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (args.data_dir / "events.duckdb").exists():
        raise SystemExit(f"{args.data_dir}: seed it first with bench.dashboard --data-dir")
    key = make_key(args.data_dir, None, "admin")  # sees every project
    server = Server(args.data_dir)
    calls = overview_requests(*RANGES[args.range])
    figures: dict[str, float] = {}
    try:
        with httpx.Client(
            base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as c:

            def get(path: str, params: dict[str, str]) -> httpx.Response:
                answer = c.get(path, params=params)
                answer.raise_for_status()
                return answer

            for name, (path, params) in calls.items():
                approximate = bool(get(path, params).json().get("approximate"))  # warm
                samples = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    get(path, params)
                    samples.append(time.perf_counter() - t)
                figures[name] = round(statistics.median(samples) * 1000, 1)
                print(f"{name:<20} {figures[name]:7.1f} ms  {'(rollups)' if approximate else ''}")
            together = []
            with ThreadPoolExecutor(len(calls)) as pool:
                for _ in range(args.runs):
                    t = time.perf_counter()
                    list(pool.map(lambda call: get(*call), calls.values()))
                    together.append(time.perf_counter() - t)
            figures["all at once"] = round(statistics.median(together) * 1000, 1)
            print(f"{'all at once':<20} {figures['all at once']:7.1f} ms  (median of {args.runs})")
    finally:
        server.stop()
    print("RESULT " + json.dumps({**figures, "range": args.range, "cpu": cpu_model()}))


if __name__ == "__main__":
    main()
