"""Replicas on one PostgreSQL: how long a takeover takes after the leader is killed (-9), how
soon a commit on one replica wakes a Live long-poll on another, and each replica's RSS. Prints
figures; never part of the test suite.

    .venv/bin/python -m bench.replicas [--replicas 3] [--ttl 15] [--renew 5] [--wakes 20]

Starts a throwaway PostgreSQL (tests/harness/pg.py) and `promptpulse serve` processes
(tests/harness/replicas.py), each on its own DuckDB directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from promptpulse.meta import MetaDB, Scope, create_key
from tests.harness.pg import PostgresServer
from tests.harness.replicas import Replica, start_replica, wait_for

QUIET = {"rollup_interval_s": 0, "retention_interval_s": 0, "reports_interval_s": 0}


def leader_of(group: list[Replica]) -> str | None:
    seen = {(r.ready() or {}).get("leader") for r in group if r.alive}
    return seen.pop() if len(seen) == 1 else None


def rss_mb(r: Replica) -> float:
    for line in Path(f"/proc/{r.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wake_ms(a: Replica, b: Replica, key: str, n: int) -> list[float]:
    """Ingest one call on `a` while `b` long-polls; milliseconds until `b` answers."""
    out = []
    for i in range(n):
        with b.client(key) as cb, a.client(key) as ca:
            seen = cb.get("/v1/changes", params={"after": -1}).json()["sequence"]
            woke: list[float] = []

            def poll(c=cb, s=seen, got=woke) -> None:  # type: ignore[no-untyped-def]
                c.get("/v1/changes", params={"after": s, "wait": 9})
                got.append(time.perf_counter())

            t = threading.Thread(target=poll)
            t.start()
            time.sleep(0.2)  # the poll is waiting
            sent = time.perf_counter()
            event = {"id": f"w{i}", "timestamp": datetime.now(UTC).isoformat(), "model": "m",
                     "latency_ms": 1, "status": "success"}  # fmt: skip
            assert ca.post("/v1/events", json={"events": [event]}).status_code == 200
            t.join()
            out.append((woke[0] - sent) * 1000)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--ttl", type=float, default=15.0)
    p.add_argument("--renew", type=float, default=5.0)
    p.add_argument("--wakes", type=int, default=20)
    args = p.parse_args()
    pg = PostgresServer()
    group: list[Replica] = []
    try:
        url = pg.create_database()
        meta = MetaDB(url)
        key = create_key(meta, "bench", frozenset({Scope.INGEST, Scope.READ}))[1]
        root = Path(tempfile.mkdtemp(prefix="pp-bench-"))
        lease = {"lease_ttl_s": args.ttl, "lease_renew_s": args.renew}
        for i in range(args.replicas):
            group.append(start_replica(f"r{i}", root / f"r{i}", url, **lease, **QUIET))
        leader = wait_for("a leader", lambda: leader_of(group), 60)
        print(f"replicas: {args.replicas}, lease TTL {args.ttl} s, renewed every {args.renew} s")
        print("RSS per replica (MB): " + ", ".join(f"{rss_mb(r):.0f}" for r in group))
        wakes = sorted(wake_ms(group[0], group[1], key, args.wakes))
        print(f"cross-replica wake of a long-poll (ms): median {statistics.median(wakes):.1f}, "
              f"max {wakes[-1]:.1f} over {len(wakes)}")  # fmt: skip
        old = next(r for r in group if r.name == leader)
        old.kill()
        killed = time.perf_counter()
        rest = [r for r in group if r is not old]
        new = wait_for("a new leader", lambda: leader_of(rest) not in (None, leader), 120, 0.05)
        print(
            f"takeover after kill -9 of {leader}: {time.perf_counter() - killed:.1f} s "
            f"(bound: TTL + renew = {args.ttl + args.renew:.0f} s) -> {leader_of(rest)} {new}"
        )
        meta.close()
    finally:
        for r in group:
            r.stop()
        pg.stop()


if __name__ == "__main__":
    main()
