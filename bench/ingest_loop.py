"""Does ingest starve the event loop? 8 clients post 10,000-event batches while a prober asks
`/healthz` every 50 ms (issue 17, item 9). Run by hand:

    PYTHONPATH=src python -m bench.ingest_loop [--clients 8] [--batches 4] [--batch-size 10000]

Prints `/healthz` p50/p95/p99, ingest ack p50/p99, the 429s (backpressure) and events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench._common import Server, make_key
from bench.ingest import make_bodies


async def run(url: str, key: str, bodies: list[bytes], clients: int) -> dict[str, object]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    acks: list[float] = []
    health: list[float] = []
    refused = accepted = 0
    done = asyncio.Event()

    async def client() -> None:
        nonlocal refused, accepted
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as http:
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    t = time.perf_counter()
                    r = await http.post("/v1/events", content=body)
                    acks.append(time.perf_counter() - t)
                    if r.status_code == 429:
                        refused += 1
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    r.raise_for_status()
                    accepted += r.json()["accepted"]
                    break

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not done.is_set():
                t = time.perf_counter()
                (await http.get("/healthz")).raise_for_status()
                health.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)

    probing = asyncio.create_task(prober())
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    done.set()
    await probing
    return {"acks": acks, "health": health, "refused": refused, "accepted": accepted,
            "seconds": seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=4, help="per client")
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    bodies = make_bodies(args.clients * args.batches, args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key = make_key(data_dir, "bench", "ingest,read")
        server = Server(data_dir)
        try:
            out = asyncio.run(run(server.url, key, bodies, args.clients))
        finally:
            server.stop()
    health = np.array(out["health"]) * 1000
    acks = np.array(out["acks"]) * 1000
    print(
        f"{out['accepted']:,} events in {out['seconds']:.1f} s "
        f"({out['accepted'] / out['seconds']:,.0f}/s), {out['refused']} answered 429"
    )
    print(
        f"/healthz ms: p50 {np.percentile(health, 50):.1f}  p95 {np.percentile(health, 95):.1f}"
        f"  p99 {np.percentile(health, 99):.1f}  (n={len(health)})"
    )
    print(f"ingest ack ms: p50 {np.percentile(acks, 50):.0f}  p99 {np.percentile(acks, 99):.0f}")


if __name__ == "__main__":
    main()
