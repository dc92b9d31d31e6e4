"""SDK overhead and sender throughput. Prints figures; never part of the test suite.

    .venv/bin/python bench/sdk_overhead.py [--calls 2000] [--events 50000]

1. Added latency per wrapped call: the real `openai` client calling the local fake OpenAI server,
   wrapped vs unwrapped, interleaved; median of each and the difference of medians. The network
   round trip is noisy, so also 2: the wrapper's own work per call (start the record, read the
   response, finish, enqueue), measured around a `create` that returns a prepared response at once.
3. Sender throughput: events recorded and delivered to a real PromptPulse server per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from promptpulse.sdk import Client, wrap_openai
from tests.conftest import start_server, stop_server
from tests.fakes import start_fake_openai

MESSAGES = [{"role": "user", "content": "hi"}]


def end_to_end(fake_url: str, pp: Client, calls: int) -> tuple[float, float]:
    plain = openai.OpenAI(base_url=fake_url + "/v1", api_key="x", max_retries=0)
    wrapped = wrap_openai(
        openai.OpenAI(base_url=fake_url + "/v1", api_key="x", max_retries=0),
        prompt_id="bench", promptpulse_client=pp,
    )  # fmt: skip
    for client in (plain, wrapped):  # warm up connections
        for _ in range(50):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    a: list[float] = []
    b: list[float] = []
    for _ in range(calls):
        for client, out in ((plain, a), (wrapped, b)):
            t0 = time.perf_counter()
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            out.append(time.perf_counter() - t0)
    return statistics.median(a) * 1e6, statistics.median(b) * 1e6


def wrapper_only(fake_url: str, pp: Client, calls: int) -> float:
    client = openai.OpenAI(base_url=fake_url + "/v1", api_key="x", max_retries=0)
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    class Completions:
        def create(self, **kwargs: object) -> object:
            return response

    class Chat:
        completions = Completions()

    class Stub:
        chat = Chat()
        base_url = "https://api.openai.com/v1"

    stub = wrap_openai(Stub(), prompt_id="bench", promptpulse_client=pp)
    raw = Completions()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        stub.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        t1 = time.perf_counter()
        raw.create(model="gpt-4o-mini", messages=MESSAGES)
        t2 = time.perf_counter()
        samples.append((t1 - t0) - (t2 - t1))
    return statistics.median(samples) * 1e6


def throughput(url: str, key: str, events: int) -> tuple[float, float]:
    pp = Client(url, key, batch_size=1000, max_queue=events + 1, flush_interval=0.05)
    t0 = time.perf_counter()
    for i in range(events):
        pp.record(model="gpt-4o-mini", latency_ms=float(i % 900), input_tokens=100, output_tokens=20,
                  prompt_id="bench-throughput")  # fmt: skip
    t1 = time.perf_counter()
    assert pp.flush(timeout=600)
    t2 = time.perf_counter()
    assert pp.stats.accepted == events, pp.stats
    pp.close()
    return events / (t1 - t0), events / (t2 - t0)


def encode_rate(events: int) -> float:
    """Client-side cost of a batch: JSON + gzip, events/s on one core."""
    import gzip
    import json

    batch = [
        {"id": f"{i:032x}", "timestamp": "2026-01-01T00:00:00Z", "model": "gpt-4o-mini",
         "latency_ms": 1.5, "input_tokens": 100, "output_tokens": 20, "prompt_id": "b"}
        for i in range(1000)
    ]  # fmt: skip
    t0 = time.perf_counter()
    for _ in range(events // 1000):
        gzip.compress(json.dumps({"events": batch}, separators=(",", ":")).encode(), 1)
    return events / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, start_fake_openai() as fake:
        fake.chunk_delay_s = 0
        server, thread, live = start_server(Path(data))
        try:
            key = live.key("bench")
            pp = Client(live.url, key, max_queue=10 * args.calls + 1000, flush_interval=0.2)
            plain, wrapped = end_to_end(fake.url, pp, args.calls)
            assert pp.flush(timeout=120)
            pp.close()
            # The sender idle (large batches, long interval): the wrapper's own work only.
            idle = Client(live.url, key, batch_size=10**6, max_queue=10**6, flush_interval=3600)
            own = wrapper_only(fake.url, idle, 20 * args.calls)
            idle.close(timeout=60)
            print(f"openai call via local fake, median of {args.calls} interleaved calls:")
            print(f"  unwrapped {plain:9.1f} µs   wrapped {wrapped:9.1f} µs   "
                  f"difference {wrapped - plain:+7.1f} µs")  # fmt: skip
            print(f"wrapper's own work per call (median of {20 * args.calls}): {own:6.1f} µs "
                  "(target < 50 µs)")  # fmt: skip
            enqueue, delivered = throughput(live.url, key, args.events)
            print(f"sender: {args.events} events; record() {enqueue:,.0f} events/s; "
                  f"recorded and stored {delivered:,.0f} events/s")  # fmt: skip
            print(f"  (client-side JSON+gzip alone: {encode_rate(args.events):,.0f} events/s; "
                  "the rest is the server's ingest, one request in flight)")  # fmt: skip
        finally:
            stop_server(server, thread)
            live.meta.close()


if __name__ == "__main__":
    main()
