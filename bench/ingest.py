"""Ingest throughput over HTTP: concurrent clients posting 1,000-event batches to a real server.

    .venv/bin/python -m bench.ingest [--clients 8] [--batches 400] [--batch-size 1000]

Prints sustained events/s (accepted, committed) and request latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench._common import Server, make_key

MODELS = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gemini-2.0-flash", "my-finetune"]


def make_bodies(batches: int, size: int, seed: int = 1) -> list[bytes]:
    rng = np.random.default_rng(seed)
    start = datetime.now(UTC) - timedelta(hours=6)
    bodies = []
    for b in range(batches):
        events = []
        for i in range(size):
            error = rng.random() < 0.03
            event = {
                "id": uuid.uuid4().hex,
                "timestamp": (start + timedelta(seconds=b * 10 + i / size)).isoformat(),
                "prompt_id": f"prompt-{int(rng.integers(0, 30))}",
                "prompt_version": f"v{int(rng.integers(1, 4))}",
                "model": MODELS[int(rng.integers(0, len(MODELS)))],
                "environment": "production",
                "user_id": f"user-{int(rng.integers(0, 5000))}",
                "session_id": f"s-{int(rng.integers(0, 50000))}",
                "metadata": {"tier": "pro", "region": "eu"},
                "status": "error" if error else "success",
                "latency_ms": float(round(rng.lognormal(6.5, 0.6), 2)),
                "ttft_ms": float(round(rng.uniform(50, 600), 2)),
                "input_tokens": int(rng.integers(100, 3000)),
                "output_tokens": int(rng.integers(10, 800)),
                "cached_tokens": 0,
            }
            if error:
                event["error_type"] = "rate_limit"
            events.append(event)
        bodies.append(orjson.dumps({"events": events}))
    return bodies


async def run(
    url: str, key: str, bodies: list[bytes], clients: int
) -> tuple[int, float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(
            base_url=url,
            timeout=120,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        ) as http:
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    t = time.perf_counter()
                    r = await http.post("/v1/events", content=body)
                    latencies.append(time.perf_counter() - t)
                    if r.status_code == 429:
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    r.raise_for_status()
                    accepted += r.json()["accepted"]
                    break

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted, time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    print(f"building {args.batches} bodies of {args.batch_size} events…")
    bodies = make_bodies(args.batches, args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key = make_key(data_dir, "bench", "ingest,read")
        server = Server(data_dir)
        try:
            accepted, seconds, latencies = asyncio.run(run(server.url, key, bodies, args.clients))
            lat = np.array(latencies) * 1000
            print(
                f"{accepted:,} events accepted in {seconds:.2f} s by {args.clients} clients: "
                f"{accepted / seconds:,.0f} events/s"
            )
            print(
                f"request latency ms: p50 {np.percentile(lat, 50):.1f}  p95 "
                f"{np.percentile(lat, 95):.1f}  p99 {np.percentile(lat, 99):.1f}"
            )
            rss, peak = server.rss_mb()
            print(f"server RSS now {rss:.0f} MB, peak {peak:.0f} MB")
            figures = {"events_per_s": accepted / seconds, "ack_p50_ms": np.percentile(lat, 50),
                       "ack_p99_ms": np.percentile(lat, 99), "peak_rss_mb": peak}  # fmt: skip
            print("RESULT " + orjson.dumps({k: float(v) for k, v in figures.items()}).decode())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
