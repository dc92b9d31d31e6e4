"""Sustained load (issue 12): does ingest hold up while dashboards read?

    PYTHONPATH=src .venv/bin/python -m bench.sustained [--seconds 60] [--history 1000000]

A real `promptpulse serve` over a store seeded with `--history` calls of the last 30 days (in
SQL, `bench/seed_sql.py`), then two phases of `--seconds` each:

1. 8 ingest clients alone, each posting 1,000-event batches back to back (2xx after COMMIT;
   a 429 waits its Retry-After and resends): ingest rate and ack p99.
2. the same 8 clients plus 4 dashboard users refreshing the Overview: each refresh sends the
   Overview page's own API calls at once (`web/static/js/pages/overview.js`: overview with the
   previous period, two time series, two breakdowns, the cost forecast) over its default
   24 h range, waits for all, pauses `--think-s`, and refreshes again.

Prints both phases, the drop in ingest rate (target: ≤ 30 %), query p95 per call and per
refresh, and a final `RESULT {json}` line. Clients share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from bench._common import Server, make_key, overview_requests
from bench.seed_sql import insert_calls, rebuild_rollups
from promptpulse.store.duck import DuckStore

INGEST_CLIENTS = 4 * 2
DASHBOARD_USERS = 4
BATCH = 1000
SEQ = b"@SEQ@"  # stands in each body template for the batch's own id prefix


def overview_calls() -> list[tuple[str, dict[str, str]]]:
    """What the Overview page asks for on each refresh, over its default range (24 h); the
    recent calls are left out (as since the first runs): six calls a refresh (seven before the
    two prompt breakdowns became one)."""
    calls = overview_requests(timedelta(hours=24))
    return [call for name, call in calls.items() if name != "recent calls"]


def body_template(seed: int) -> bytes:
    """1,000 realistic events of the last minutes; ids carry SEQ, replaced per batch."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    events = []
    for i in range(BATCH):
        error = bool(rng.random() < 0.03)
        event = {
            "id": f"{SEQ.decode()}-{i}",
            "timestamp": (now - timedelta(milliseconds=300 * i)).isoformat(),
            "prompt_id": f"prompt-{int(rng.integers(0, 40))}",
            "prompt_version": f"v{int(rng.integers(0, 4))}",
            "model": ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"][int(rng.integers(0, 3))],
            "environment": "production",
            "user_id": f"user-{int(rng.integers(0, 5000))}",
            "metadata": {"tier": "pro"},
            "status": "error" if error else "success",
            "latency_ms": float(round(rng.lognormal(6.5, 0.7), 2)),
            "ttft_ms": float(round(rng.uniform(50, 900), 2)),
            "input_tokens": int(rng.integers(200, 3200)),
            "output_tokens": int(rng.integers(20, 620)),
        }
        if error:
            event["error_type"] = "timeout"
        events.append(event)
    return orjson.dumps({"events": events})


@dataclass
class Phase:
    accepted: int = 0
    acks: list[float] = field(default_factory=list)
    refused: int = 0
    calls: list[float] = field(default_factory=list)  # one dashboard API call
    refreshes: list[float] = field(default_factory=list)  # one whole Overview refresh
    failed_queries: int = 0
    # A request whose kept-alive connection the server closed as it was reused (uvicorn closes
    # connections idle for 5 s): ingest sends the batch again (its ids make that safe).
    connection_errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, float | None]:
        def pct(xs: list[float], q: float) -> float | None:  # None: nothing to rank (JSON null)
            return float(np.percentile(np.array(xs) * 1000, q)) if xs else None

        return {
            "events_per_s": self.accepted / self.seconds,
            "ack_p50_ms": pct(self.acks, 50),
            "ack_p99_ms": pct(self.acks, 99),
            "refused_429": float(self.refused),
            "query_p50_ms": pct(self.calls, 50),
            "query_p95_ms": pct(self.calls, 95),
            "refresh_p95_ms": pct(self.refreshes, 95),
            "queries": float(len(self.calls)),
            "failed_queries": float(self.failed_queries),
            "connection_errors": float(self.connection_errors),
        }


async def ingest(url: str, key: str, worker: int, until: float, phase: Phase, tag: str) -> None:
    template = body_template(worker)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        seq = 0
        while time.monotonic() < until:
            body = template.replace(SEQ, f"{tag}-{worker}-{seq}".encode())
            seq += 1
            while True:  # the same batch until it is acknowledged
                started = time.perf_counter()
                try:
                    r = await http.post("/v1/events", content=body)
                except httpx.TransportError:
                    phase.connection_errors += 1
                    continue
                phase.acks.append(time.perf_counter() - started)
                if r.status_code != 429:
                    r.raise_for_status()
                    phase.accepted += int(r.json()["accepted"])
                    break
                phase.refused += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))


async def dashboard(url: str, key: str, until: float, phase: Phase, think_s: float) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:

        async def one(path: str, params: dict[str, str]) -> None:
            started = time.perf_counter()
            try:
                r = await http.get(path, params=params)
            except httpx.TransportError:
                phase.connection_errors += 1
                phase.failed_queries += 1
                return
            if r.status_code == 200:
                phase.calls.append(time.perf_counter() - started)
            else:
                phase.failed_queries += 1

        while time.monotonic() < until:
            started = time.perf_counter()
            await asyncio.gather(*(one(p, q) for p, q in overview_calls()))
            phase.refreshes.append(time.perf_counter() - started)
            await asyncio.sleep(think_s)


async def run_phase(url: str, keys: tuple[str, str], seconds: float, users: int,
                    think_s: float, tag: str) -> Phase:  # fmt: skip
    phase = Phase()
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(ingest(url, keys[0], w, until, phase, tag) for w in range(INGEST_CLIENTS)),
        *(dashboard(url, keys[1], until, phase, think_s) for _ in range(users)),
    )
    phase.seconds = time.monotonic() - started  # in-flight batches finish after `until`
    return phase


def seed_history(data_dir: Path, calls: int) -> float:
    store = DuckStore(data_dir / "events.duckdb", query_timeout_s=3600)
    try:
        began = time.perf_counter()
        start, span = datetime.now(UTC) - timedelta(days=30), timedelta(days=30)
        insert_calls(store, "duckdb", 0, calls, start, span, lambda _: None)
        rebuild_rollups(store, start, span, lambda _: None)
        return time.perf_counter() - began
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--history", type=int, default=1_000_000, help="calls seeded first")
    parser.add_argument("--think-s", type=float, default=1.0, help="a user's pause per refresh")
    args = parser.parse_args()
    seconds = min(args.seconds, 600.0)  # bounded, whatever is asked
    with tempfile.TemporaryDirectory(prefix="pp-bench-sustained-") as tmp:
        data_dir = Path(tmp)
        took = seed_history(data_dir, args.history)
        print(f"seeded {args.history:,} calls of history in {took:.0f} s", flush=True)
        keys = (make_key(data_dir, "bench", "ingest"), make_key(data_dir, "bench", "read"))
        server = Server(data_dir)
        try:
            alone = asyncio.run(run_phase(server.url, keys, seconds, 0, args.think_s, "a"))
            both = asyncio.run(
                run_phase(server.url, keys, seconds, DASHBOARD_USERS, args.think_s, "b")
            )
            peak = server.rss_mb()[1]
        finally:
            server.stop()
    report(alone.summary(), both.summary(), seconds, peak)


def report(alone: dict[str, Any], both: dict[str, Any], seconds: float, peak: float) -> None:
    drop = (1 - both["events_per_s"] / alone["events_per_s"]) * 100
    print(f"{INGEST_CLIENTS} ingest clients, {seconds:.0f} s per phase")
    for name, p in (("ingest alone", alone), (f"+ {DASHBOARD_USERS} dashboard users", both)):
        print(
            f"  {name:<22} {p['events_per_s']:>9,.0f} events/s  ack p99 {p['ack_p99_ms']:>6.0f} "
            f"ms  ({p['refused_429']:.0f} × 429, {p['connection_errors']:.0f} connection errors)"
        )
    print(
        f"  dashboard queries: {both['queries']:.0f} calls, p50 {both['query_p50_ms']:.0f} ms, "
        f"p95 {both['query_p95_ms']:.0f} ms; a whole Overview refresh p95 "
        f"{both['refresh_p95_ms']:.0f} ms ({both['failed_queries']:.0f} failed)"
    )
    print(f"  ingest drop while queries run: {drop:.1f} % (target ≤ 30 %); peak RSS {peak:.0f} MB")
    figures = {"alone": alone, "with_dashboards": both, "drop_pct": drop, "peak_rss_mb": peak}
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
