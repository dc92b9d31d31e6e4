"""Budget check latency under load: GET /v1/budgets/check while clients ingest.

    .venv/bin/python bench/budget_check.py [--budgets 50] [--checks 3000] [--ingesters 2]

A real server (subprocess) with `--budgets` budgets over assorted filters; `--ingesters` threads
send 500-call batches without pause while one thread asks `--checks` checks with random call
attributes. Prints the server time of a check (its Server-Timing header: time.perf_counter
around the in-memory lookup) and the round trip, p50 and p99, with the round trip of
GET /healthz on the same connection as the stick; then the same with no ingest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Server, make_key

PROMPTS = [f"p{i}" for i in range(20)]
USERS = [f"u{i}" for i in range(200)]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet"]


def budgets(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        filters: dict[str, Any] = {}
        if i % 3:
            filters["prompt_id"] = PROMPTS[i % len(PROMPTS)]
        if i % 4 == 1:
            filters["model"] = MODELS[i % len(MODELS)]
        if i % 5 == 2:
            filters["user_id"] = [USERS[i], USERS[i + 1]]
        out.append({"name": f"b{i}", "amount": 10 + i, "filters": filters})
    return out


def batch(rng: np.random.Generator, size: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {"id": uuid.uuid4().hex, "timestamp": now, "model": MODELS[int(rng.integers(3))],
         "prompt_id": PROMPTS[int(rng.integers(20))], "user_id": USERS[int(rng.integers(200))],
         "latency_ms": 100.0, "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.001}
        for _ in range(size)
    ]  # fmt: skip


def ingest(url: str, key: str, stop: threading.Event, sent: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
        while not stop.is_set():
            r = c.post("/v1/events", json={"events": batch(rng, 500)})
            if r.status_code == 200:
                sent.append(500)


def checks(url: str, key: str, n: int) -> tuple[list[float], list[float], list[float]]:
    rng = np.random.default_rng(1)
    server, trip, stick = [], [], []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
        for i in range(n):
            params = {"prompt_id": PROMPTS[int(rng.integers(20))],
                      "user_id": USERS[int(rng.integers(200))], "model": MODELS[i % 3]}  # fmt: skip
            t = time.perf_counter()
            r = c.get("/v1/budgets/check", params=params)
            trip.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)
            t = time.perf_counter()
            c.get("/healthz")
            stick.append(time.perf_counter() - t)
    return server, trip, stick


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1000


def report(label: str, server: list[float], trip: list[float], stick: list[float]) -> None:
    s50 = statistics.median(stick) * 1000
    print(f"{label}: {len(server)} checks")
    print(
        f"  server time   p50 {pct(server, 50) * 1000:8.1f} µs   p99 {pct(server, 99) * 1000:8.1f} µs"
    )
    print(f"  round trip    p50 {pct(trip, 50):8.3f} ms   p99 {pct(trip, 99):8.3f} ms"
          f"   ({pct(trip, 50) / s50:.2f}x / {pct(trip, 99) / s50:.2f}x GET /healthz p50 {s50:.3f} ms)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=int, default=50)
    ap.add_argument("--checks", type=int, default=3000)
    ap.add_argument("--ingesters", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        key = make_key(data, "bench", "ingest,read,admin")
        srv = Server(data, budget_check_refresh_s="2", alerts_interval_s="0")
        try:
            with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}) as c:
                for b in budgets(args.budgets):
                    assert c.post("/v1/budgets", json=b).status_code == 201
            time.sleep(3)  # the next refresh reads them
            report("idle", *checks(srv.url, key, args.checks))
            stop, sent = threading.Event(), []
            threads = [threading.Thread(target=ingest, args=(srv.url, key, stop, sent, i))
                       for i in range(args.ingesters)]  # fmt: skip
            for t in threads:
                t.start()
            started = time.perf_counter()
            result = checks(srv.url, key, args.checks)
            took = time.perf_counter() - started
            stop.set()
            for t in threads:
                t.join()
            report(f"under ingest ({sum(sent) / took:,.0f} calls/s stored meanwhile)", *result)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
