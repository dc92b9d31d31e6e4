"""The ingest row with the stick's own load generator on both sides: `wrk`, one thread, 16
connections, alternating the stick and PromptPulse, medians and their ratio.

`bench.ingest` drives our server from Python (httpx), and on a 2-core machine that client takes
~8–10 µs of CPU a call that the stick's `wrk` (C) does not (docs/performance.md). Here our
server gets `wrk` too. Each of its requests is a different 1,000-event body from a rotation
(made like `bench.ingest`'s), so that nothing is a duplicate until the rotation wraps (said
when it does); events/s counts the calls the server stored, over wrk's run.

    PYTHONPATH=src python -m bench.ingest_wrk [--runs 3] [--seconds 10] [--conns 16] [--bodies N]

`--ours-only` makes one run of ours and prints `RESULT {json}`: `bench.perf --ingest-client wrk`.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._common import Server, cpu_model, make_key, wrk_latency_ms
from bench._sticks import Sticks
from bench.ingest import make_bodies

LUA = """
local bodies = {}
local sent = 0
local headers = {}
local threads = {}
refused = ""
setup = function(thread)
  table.insert(threads, thread)
end
response = function(status, headers, body)
  if status > 299 then
    refused = refused .. " " .. status
  end
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("REFUSED" .. thread:get("refused") .. "\\n")
  end
end
init = function(args)
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. args[1]
  for i = 1, tonumber(args[3]) do
    local f = io.open(args[2] .. "/b" .. i .. ".json", "rb")
    bodies[i] = f:read("*all")
    f:close()
  end
end
request = function()
  sent = sent + 1
  return wrk.format("POST", "/v1/events", headers, bodies[((sent - 1) % #bodies) + 1])
end
"""


def ours(seconds: int, conns: int, bodies: list[bytes]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        rotation = Path(tmp) / "bodies"
        rotation.mkdir()
        for i, body in enumerate(bodies, 1):
            (rotation / f"b{i}.json").write_bytes(body)
        script = Path(tmp) / "rotate.lua"
        script.write_text(LUA)
        key = make_key(data_dir, "bench", "ingest,read")
        server = Server(data_dir)
        try:
            started = time.perf_counter()
            run = subprocess.run(
                ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script),
                 server.url, "--", key, str(rotation), str(len(bodies))],
                capture_output=True, text=True, timeout=seconds + 120, check=True,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            now = datetime.now(UTC)
            span = {"from": (now - timedelta(hours=8)).isoformat(), "to": now.isoformat()}
            stored = httpx.get(
                server.url + "/v1/metrics/overview",
                params=span,
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            ).json()["requests"]
        finally:
            server.stop()
    done = re.search(r"(\d+) requests in", run.stdout)
    requests = int(done.group(1)) if done else 0
    if requests > len(bodies):
        print(f"  (the rotation wrapped: {requests} requests over {len(bodies)} bodies)")
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)
    statuses = re.search(r"^REFUSED(.*)$", run.stdout, re.M)
    if statuses and statuses.group(1).strip():
        counts = Counter(statuses.group(1).split())
        print("  refused: " + ", ".join(f"{n} x {status}" for status, n in sorted(counts.items())))
    return {
        "events_per_s": stored / elapsed,
        "ack_p50_ms": wrk_latency_ms(run.stdout, "50"),
        "ack_p99_ms": wrk_latency_ms(run.stdout, "99"),
        "non_2xx": float(refused.group(1)) if refused else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument(
        "--bodies", type=int, help="the rotation (default: 200 a second, past any rate seen here)"
    )
    parser.add_argument(
        "--ours-only", action="store_true", help="one run of ours, then RESULT {json} (bench.perf)"
    )
    args = parser.parse_args()
    sticks = Sticks()
    sticks.ensure(need_wrk=True)
    count = args.bodies or max(2000, 200 * args.seconds)
    print(f"CPU: {cpu_model()}; building {count} bodies of 1,000 events…")
    bodies = make_bodies(count, 1000)
    if args.ours_only:
        print("RESULT " + json.dumps(ours(args.seconds, args.conns, bodies)))
        return
    stick_rates, our_rates, p99s = [], [], []
    for n in range(1, args.runs + 1):
        stick = sticks.ingest(args.seconds, args.conns)["events_per_s"]
        mine = ours(args.seconds, args.conns, bodies)
        stick_rates.append(stick)
        our_rates.append(mine["events_per_s"])
        p99s.append(mine["ack_p99_ms"])
        print(
            f"run {n}: stick {stick:,.0f} events/s, ours {mine['events_per_s']:,.0f} "
            f"(ack p50 {mine['ack_p50_ms']:.0f} ms, p99 {mine['ack_p99_ms']:.0f} ms, "
            f"{mine['non_2xx']:.0f} non-2xx): {mine['events_per_s'] / stick:.2f}"
        )
    stick, mine = statistics.median(stick_rates), statistics.median(our_rates)
    print(
        f"median: stick {stick:,.0f}, ours {mine:,.0f} events/s, ratio {mine / stick:.2f} "
        f"(rounds {', '.join(f'{o / s:.2f}' for o, s in zip(our_rates, stick_rates, strict=True))}"
        f"), ack p99 {statistics.median(p99s):.0f} ms; {args.conns} connections, {args.seconds} s"
    )


if __name__ == "__main__":
    main()
