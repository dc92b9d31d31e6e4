"""The writer's duplicate index (`promptpulse.ingest.dedupe.SeenKeys`) at a store's size: its
memory, and what each commit pays to look its calls up and add them, from random 64-bit hashes
(a key's hash is uniform). The writer does both for every commit, in its own thread.

    .venv/bin/python -m bench.dedupe_index [--stored 10000000] [--commit 5400] [--commits 1000]

Prints the index's RSS (the process's growth while it is built, the hashes freed), the CPU a
call of lookup + add over `--commits` commits (every thread's: merges run in one of their own),
and the slowest commit as the writer waits for it.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench._common import cpu_model
from bench.store_backends import rss_mb
from promptpulse.ingest.dedupe import SeenKeys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, default=10_000_000, help="calls already stored")
    parser.add_argument("--commit", type=int, default=5_400, help="calls a commit")
    parser.add_argument("--commits", type=int, default=1_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    before = rss_mb()[0]
    seen = SeenKeys(rng.integers(0, 2**64 - 1, size=args.stored, dtype=np.uint64))
    index_mb = rss_mb()[0] - before
    commits = [rng.integers(0, 2**64 - 1, size=args.commit, dtype=np.uint64) for _ in range(50)]
    took = []
    cpu = time.process_time()
    for i in range(args.commits):
        hashes = commits[i % len(commits)] ^ np.uint64(i)  # new keys every commit
        started = time.perf_counter()
        seen.add(hashes[~seen.maybe_seen(hashes)])
        took.append(time.perf_counter() - started)
    seen.wait()
    per_call_us = (time.process_time() - cpu) / (args.commits * args.commit) * 1e6
    print(f"CPU: {cpu_model()}")
    print(f"{args.stored:,} stored: index {index_mb:.0f} MB")
    print(
        f"{args.commits:,} commits of {args.commit:,} calls: {per_call_us:.2f} us CPU a call, "
        f"slowest commit {max(took) * 1000:.1f} ms, median {np.median(took) * 1000:.2f} ms"
    )
    result = {
        "index_mb": index_mb,
        "us_per_call": per_call_us,
        "slowest_commit_ms": max(took) * 1000,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
