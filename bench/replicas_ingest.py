"""The scale-out shape over HTTP: one ClickHouse engine (chdb behind tests/harness/chfront.py,
its own process), a real PostgreSQL and two `promptpulse serve` replicas, next to one DuckDB
`promptpulse serve` (its default shape) in the same run. Prints figures; never part of the
test suite.

    .venv/bin/python -m bench.replicas_ingest [--calls 1000000] [--batches 200] [--clients 4]
        [--runs 3]

Each store is first seeded with --calls calls in SQL inside the engine (bench/seed_sql.py, the
distributions of bench/store_backends.py; ClickHouse's through the front, before the replicas
start; DuckDB's before its server starts). Then, over HTTP: ingest of --batches 1,000-event
batches by --clients threads (split across the two replicas; all to the one DuckDB server):
events/s and the ack p99; overview, hourly series and breakdown by model over the seeded 30
days from each replica, exact (`exact=true`) and as served (rollups), median of --runs warm
runs; the RSS of every process (the front holds the ClickHouse engine).
"""

from __future__ import annotations

import argparse
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Server, make_key
from bench.ingest import make_bodies
from bench.seed_sql import seed
from bench.store_backends import DAYS, END
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.store import open_store
from tests.harness.pg import PostgresServer
from tests.harness.replicas import free_port, start_front, start_replica

QUIET = {"rollup_interval_s": 0, "retention_interval_s": 0, "reports_interval_s": 0,
         "alerts_interval_s": 0, "query_timeout_s": 3600}  # fmt: skip
START = END - timedelta(days=DAYS)
RANGE = {"from": START.isoformat(), "to": END.isoformat()}
HOURLY = {"interval": "hour", "metrics": "requests,error_rate,latency_p95_ms,cost_usd"}
QUERIES: dict[str, tuple[str, dict[str, str]]] = {
    "overview": ("/v1/metrics/overview", {}),
    "hourly": ("/v1/metrics/timeseries", HOURLY),
    "breakdown": ("/v1/metrics/breakdown", {"by": "model"}),
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ingest(urls: list[str], key: str, bodies: list[bytes], clients: int) -> dict[str, float]:
    """`clients` threads, thread k posting to urls[k % len(urls)], until the bodies run out."""
    todo: queue.Queue[bytes] = queue.Queue()
    for body in bodies:
        todo.put(body)
    acks: list[float] = []
    accepted = [0] * clients
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def client(k: int) -> None:
        with httpx.Client(base_url=urls[k % len(urls)], headers=headers, timeout=300) as http:
            while True:
                try:
                    body = todo.get_nowait()
                except queue.Empty:
                    return
                while True:
                    t = time.perf_counter()
                    r = http.post("/v1/events", content=body)
                    if r.status_code == 429:  # back-pressure: wait as told, then again
                        time.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    acks.append(time.perf_counter() - t)
                    r.raise_for_status()
                    accepted[k] += r.json()["accepted"]
                    break

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"ingest_events_per_s": sum(accepted) / seconds,
            "ack_p99_ms": float(np.percentile(acks, 99) * 1000)}  # fmt: skip


def queries(url: str, key: str, runs: int) -> dict[str, float]:
    """Median ms of `runs` warm runs of each query, exact and as served."""
    out = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=3600) as c:
        for name, (path, params) in QUERIES.items():
            for mode, extra in (("exact", {"exact": "true"}), ("rollup", {})):
                args = {**RANGE, **params, **extra}
                samples = []
                for i in range(runs + 1):  # the first warms
                    t = time.perf_counter()
                    r = c.get(path, params=args)
                    r.raise_for_status()
                    if i:
                        samples.append(time.perf_counter() - t)
                out[f"{name}_{mode}_ms"] = statistics.median(samples) * 1000
    return out


def clickhouse_side(root: Path, args: argparse.Namespace, bodies: list[bytes]) -> dict[str, dict]:
    """Front + PostgreSQL + two replicas: figures per process."""
    pg = PostgresServer()
    port = free_port()
    front = start_front(root / "chdb", port, root / "front.log")
    store_url = f"clickhouse://default@127.0.0.1:{port}/default"
    replicas = []
    try:
        meta_url = pg.create_database()
        meta = MetaDB(meta_url)
        key = create_key(meta, "bench", frozenset({Scope.INGEST, Scope.READ}))[1]
        meta.close()
        store = open_store(Settings(data_dir=root / "seed", store_url=store_url,
                                    query_timeout_s=3600))  # fmt: skip
        took = _seed(store, "chdb", args.calls)
        store.close()
        for name in ("r0", "r1"):
            replicas.append(start_replica(name, root / name, meta_url, store_url=store_url,
                                          **QUIET))  # fmt: skip
        out: dict[str, dict] = {"2 replicas": ingest([r.url for r in replicas], key, bodies,
                                                      args.clients)}  # fmt: skip
        out["2 replicas"]["seed_s"] = took
        for r in replicas:
            out[r.name] = queries(r.url, key, args.runs)
            out[r.name]["rss_mb"] = rss_mb(r.proc.pid)
        out["front (chdb engine)"] = {"rss_mb": rss_mb(front.pid)}
        return out
    finally:
        for r in replicas:
            r.stop()
        front.kill()
        front.wait(timeout=60)
        pg.stop()


def duckdb_side(root: Path, args: argparse.Namespace, bodies: list[bytes]) -> dict[str, dict]:
    data_dir = root / "duck"
    store = open_store(Settings(data_dir=data_dir, query_timeout_s=3600))
    took = _seed(store, "duckdb", args.calls)
    store.close()
    key = make_key(data_dir, "bench", "ingest,read")
    server = Server(data_dir, **{k: str(v) for k, v in QUIET.items()})
    try:
        out = ingest([server.url], key, bodies, args.clients)
        out["seed_s"] = took
        out |= queries(server.url, key, args.runs)
        out["rss_mb"] = server.rss_mb()[0]
        return {"DuckDB serve": out}
    finally:
        server.stop()


def _seed(store: object, backend: str, n: int) -> float:
    say: Callable[[str], None] = lambda line: print(f"{backend}: {line}", flush=True)  # noqa: E731
    return seed(store, backend, 0, n, START, timedelta(days=DAYS), say)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=1_000_000, help="seeded before the run")
    p.add_argument("--batches", type=int, default=200, help="1,000-event batches ingested")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    bodies = make_bodies(args.batches, 1000)
    root = Path(tempfile.mkdtemp(prefix="pp-scale-"))
    try:
        results = clickhouse_side(root, args, bodies) | duckdb_side(root, args, bodies)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # 100s of MB at 1 M calls
    keys = list(dict.fromkeys(k for figures in results.values() for k in figures))
    print(f"{'':22}" + "".join(f"{name:>21}" for name in results))
    for k in keys:
        cells = (results[n].get(k) for n in results)
        print(f"{k:22}" + "".join(f"{v:>21,.1f}" if v is not None else f"{'':>21}" for v in cells))


if __name__ == "__main__":
    main()
