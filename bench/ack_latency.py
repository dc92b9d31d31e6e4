"""Acknowledgement latency at a fixed offered load (open loop), ours beside the ingest stick.

`bench.ingest_wrk` measures the ack at saturation: wrk's 16 connections each send the next body
as soon as the last is answered, so the mean ack is about 16,000 events / the server's rate
(Little's law) and the p99 is mostly queueing. A production ingest path runs below its
ceiling; what its clients feel there is the latency at a given rate. Here 1,000-event bodies are
sent on a fixed schedule (`--rate` events/s) whatever the answers do, and each ack is timed from
when its request was due, so a stall counts for every request it held back (no coordinated
omission); the first 3 s are a warm-up, not counted. The same schedule goes to the stick's
server (`ingest_limit.py serve`, the bare pipeline of ../shared/bench) and to ours,
alternating, `--runs` times.

    PYTHONPATH=src python -m bench.ack_latency [--rate 30000] [--seconds 20] [--runs 3]
        [--set duckdb_checkpoint_threshold=32MB ...]

`--ours-only` makes one run of ours and prints `RESULT {json}`; `--stick-only` the stick's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench._common import Server, cpu_model, make_key
from bench._sticks import Sticks
from bench.ingest import make_bodies

WARM_UP_S = 3.0


async def _post(client: httpx.AsyncClient, url: str, body: bytes, due: float) -> tuple[int, float]:
    response = await client.post(url, content=body)
    return response.status_code, time.perf_counter() - due


async def _schedule(url: str, headers: dict[str, str], bodies: list[bytes], rate_rps: float,
                    seconds: float) -> tuple[list[float], int]:  # fmt: skip
    """Request i is due at start + i / rate_rps; returns (ack seconds of the 2xx, non-2xx),
    leaving out the first WARM_UP_S (a fresh server's first commits write each table's first
    blocks and warm its caches: ~1 s for the first one)."""
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:
        tasks = []
        start = time.perf_counter() + 0.2
        for i in range(int(rate_rps * (WARM_UP_S + seconds))):
            due = start + i / rate_rps
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(_post(client, url, bodies[i % len(bodies)], due)))
        answers = (await asyncio.gather(*tasks))[int(rate_rps * WARM_UP_S) :]
    acks = [s for status, s in answers if status < 300]
    return acks, len(answers) - len(acks)


def _figures(acks: list[float], refused: int, rate: float) -> dict[str, float]:
    ms = np.array(acks) * 1e3 if acks else np.array([float("nan")])
    return {
        "ack_open_rate": rate,
        "ack_open_p50_ms": float(np.percentile(ms, 50)),
        "ack_open_p99_ms": float(np.percentile(ms, 99)),
        "ack_open_max_ms": float(ms.max()),
        "ack_open_requests": float(len(acks) + refused),
        "ack_open_non_2xx": float(refused),
    }


def ours(rate: float, seconds: float, bodies: list[bytes], **env: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        key = make_key(data_dir, "bench", "ingest,read")
        server = Server(data_dir, **env)
        try:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            run = _schedule(server.url + "/v1/events", headers, bodies, rate / 1000, seconds)
            acks, refused = asyncio.run(run)
        finally:
            server.stop()
    return _figures(acks, refused, rate)


def stick(rate: float, seconds: float, sticks: Sticks) -> dict[str, float]:
    with sticks.ingest_server() as url:
        body = sticks.ingest_body()
        headers = {"Content-Type": "application/json"}
        acks, refused = asyncio.run(_schedule(url, headers, [body], rate / 1000, seconds))
    return _figures(acks, refused, rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=30_000, help="offered events/s")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of our server, e.g. duckdb_checkpoint_threshold=32MB (PROMPTPULSE_NAME)",
    )
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--ours-only", action="store_true", help="one run of ours, then RESULT")
    side.add_argument("--stick-only", action="store_true", help="one run of the stick's")
    args = parser.parse_args()
    env = dict(setting.split("=", 1) for setting in args.set)
    sticks = Sticks()
    sticks.ensure(need_wrk=False)
    # Every body different, so nothing is a duplicate (our dedupe would make those cheaper).
    count = 0 if args.stick_only else int(args.rate / 1000 * (WARM_UP_S + args.seconds)) + 1
    print(f"CPU: {cpu_model()}; {args.rate:,.0f} events/s for {args.seconds:.0f} s")
    bodies = make_bodies(count, 1000) if count else []
    if args.ours_only or args.stick_only:
        one = ours(args.rate, args.seconds, bodies, **env) if args.ours_only else None
        print("RESULT " + json.dumps(one or stick(args.rate, args.seconds, sticks)))
        return
    rounds: dict[str, list[dict[str, float]]] = {"stick": [], "ours": []}
    for n in range(1, args.runs + 1):
        rounds["stick"].append(stick(args.rate, args.seconds, sticks))
        rounds["ours"].append(ours(args.rate, args.seconds, bodies, **env))
        print(f"run {n}: " + "; ".join(f"{name} {_line(r[-1])}" for name, r in rounds.items()))
    medians = {
        f"{name}.{key}": statistics.median(r[key] for r in runs)
        for name, runs in rounds.items()
        for key in runs[0]
    }
    print(f"median: stick {_line(_side(medians, 'stick'))}; ours {_line(_side(medians, 'ours'))}")
    print("RESULT " + json.dumps(medians))


def _side(medians: dict[str, float], name: str) -> dict[str, float]:
    return {k.split(".", 1)[1]: v for k, v in medians.items() if k.startswith(name + ".")}


def _line(f: dict[str, float]) -> str:
    refused = f" ({f['ack_open_non_2xx']:.0f} non-2xx)" if f["ack_open_non_2xx"] else ""
    return (
        f"ack p50 {f['ack_open_p50_ms']:.0f} ms, p99 {f['ack_open_p99_ms']:.0f} ms, "
        f"max {f['ack_open_max_ms']:.0f} ms{refused}"
    )


if __name__ == "__main__":
    main()
