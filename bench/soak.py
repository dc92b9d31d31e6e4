"""Soak: 8 ingest clients, 4 dashboard users and the alert loop against one real server for a
bounded time, with a kill -9 and a restart half-way (issue 17). Run by hand:

    PYTHONPATH=src python -m bench.soak --minutes 10

Prints ingest rate, ack p99, /healthz p99, dashboard query p95, peak RSS, and the number of
acknowledged events that are not stored after the crash (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from bench._common import CLI, free_port, make_key

MAX_MINUTES = 30.0
BATCH = 500


class Soak:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.acked: set[str] = set()
        self.acks: list[float] = []
        self.health: list[float] = []
        self.queries: list[float] = []
        self.rss: list[float] = []
        self.refused = self.errors = 0

    def start(self) -> None:
        env = {**os.environ, "PROMPTPULSE_ALERTS_INTERVAL_S": "5"}
        args = [CLI, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
                "--log-level", "warning"]  # fmt: skip
        self.proc = subprocess.Popen(args, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def sample_rss(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                self.rss.append(int(line.split()[1]) / 1024)

    async def ingest(self, worker: int, key: str, until: float) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http:
            seq = 0
            while time.monotonic() < until:
                now = datetime.now(UTC)
                events = [
                    {"id": f"w{worker}-{seq}-{i}", "model": "gpt-4o-mini",
                     "timestamp": (now - timedelta(seconds=i % 60)).isoformat(),
                     "latency_ms": 100 + (i * 37) % 900, "input_tokens": 100 + i,
                     "output_tokens": 20, "prompt_id": f"p{i % 5}", "user_id": f"u{i % 50}",
                     "status": "error" if i % 50 == 0 else "success"}
                    for i in range(BATCH)
                ]  # fmt: skip
                while time.monotonic() < until + 60:  # the same batch until acknowledged
                    started = time.perf_counter()
                    try:
                        r = await http.post("/v1/events", json={"events": events})
                    except httpx.HTTPError:
                        self.errors += 1
                        await asyncio.sleep(0.5)
                        continue
                    self.acks.append(time.perf_counter() - started)
                    if r.status_code == 200:
                        self.acked.update(e["id"] for e in events)
                        break
                    self.refused += 1
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                seq += 1

    async def dashboard(self, key: str, until: float) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        paths = [("/v1/metrics/overview", {}), ("/v1/metrics/timeseries", {}),
                 ("/v1/metrics/breakdown", {"by": "prompt_id"}), ("/v1/calls", {"limit": 50})]  # fmt: skip
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http:
            n = 0
            while time.monotonic() < until:
                path, params = paths[n % len(paths)]
                n += 1
                started = time.perf_counter()
                try:
                    r = await http.get(path, params=params)
                    if r.status_code == 200:
                        self.queries.append(time.perf_counter() - started)
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)

    async def prober(self, until: float) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            while time.monotonic() < until:
                started = time.perf_counter()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        self.health.append(time.perf_counter() - started)
                except httpx.HTTPError:
                    pass
                self.sample_rss()
                await asyncio.sleep(0.2)


async def run(soak: Soak, ingest_key: str, read_key: str, seconds: float) -> None:
    until = time.monotonic() + seconds

    async def crash_half_way() -> None:
        await asyncio.sleep(seconds / 2)
        soak.kill()
        print("killed -9 half-way; restarting", flush=True)
        await asyncio.to_thread(soak.start)

    await asyncio.gather(
        *(soak.ingest(w, ingest_key, until) for w in range(8)),
        *(soak.dashboard(read_key, until) for _ in range(4)),
        soak.prober(until),
        crash_half_way(),
    )


def stored_ids(data_dir: Path) -> set[str]:
    from promptpulse.config import Settings
    from promptpulse.model import Scope
    from promptpulse.store import open_store

    store = open_store(Settings(data_dir=data_dir))
    try:
        scope = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        return {r["id"] for r in store.calls(scope, ["id"], 100_000_000)}
    finally:
        store.close()


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q)) if samples else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = min(args.minutes, MAX_MINUTES) * 60
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        ingest_key = make_key(data_dir, "soak", "ingest")
        read_key = make_key(data_dir, "soak", "read,admin")
        soak = Soak(data_dir, free_port())
        soak.start()
        rule = {"name": "errors", "metric": "error_rate", "operator": ">", "threshold": 0.5,
                "window": "5m"}  # fmt: skip
        httpx.post(soak.url + "/v1/alerts/rules", json=rule, timeout=30,
                   headers={"Authorization": f"Bearer {read_key}"}).raise_for_status()  # fmt: skip
        started = time.monotonic()
        try:
            asyncio.run(run(soak, ingest_key, read_key, seconds))
        finally:
            soak.stop()
        took = time.monotonic() - started
        lost = soak.acked - stored_ids(data_dir)
    print(f"{seconds / 60:.1f} min, kill -9 half-way, {len(soak.acked):,} events acknowledged")
    print(f"ingest rate {len(soak.acked) / took:,.0f} events/s; ack p50 {pct(soak.acks, 50):.0f} "
          f"ms, p99 {pct(soak.acks, 99):.0f} ms; {soak.refused} answered 429/503, "
          f"{soak.errors} connection errors (the crash)")  # fmt: skip
    print(f"/healthz p50 {pct(soak.health, 50):.1f} ms, p99 {pct(soak.health, 99):.1f} ms; "
          f"dashboard query p50 {pct(soak.queries, 50):.0f} ms, p95 {pct(soak.queries, 95):.0f} "
          f"ms ({len(soak.queries)} queries)")  # fmt: skip
    print(f"server RSS peak {max(soak.rss, default=0):.0f} MB")
    print(f"acknowledged but lost: {len(lost)}")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
