"""Random calls written straight through the real writer into a real DuckDB file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from promptpulse.ingest.writer import Writer
from promptpulse.model import CALL_SCHEMA
from promptpulse.store.duck import DuckStore

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"]
PROMPTS = ["support", "search", "summarise", None]
ENVS = ["prod", "staging"]
ERRORS = ["timeout", "rate_limit", "llm_error"]


def random_calls(
    rng: np.random.Generator,
    n: int,
    start: datetime,
    end: datetime,
    project: str,
    received: datetime | None = None,
) -> pa.Table:
    span = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0, span, n))
    ts = [start + timedelta(seconds=float(s)) for s in offsets]
    status = rng.choice(["success", "error"], n, p=[0.9, 0.1])
    latency = rng.lognormal(6.5, 0.8, n)
    latency[rng.random(n) < 0.01] = 0.0  # some zero latencies (served from a cache)
    ttft = np.where(rng.random(n) < 0.7, latency * rng.uniform(0.1, 0.5, n), np.nan)
    cost = np.where(rng.random(n) < 0.9, rng.uniform(0, 0.02, n), np.nan)
    inp = rng.integers(0, 4000, n)
    out = rng.integers(0, 800, n)
    naive = [t.astimezone(UTC).replace(tzinfo=None) for t in ts]
    cols = {
        "project": [project] * n,
        "id": [uuid.uuid4().hex for _ in range(n)],
        "timestamp": naive,
        "prompt_id": [PROMPTS[i] for i in rng.integers(0, len(PROMPTS), n)],
        "prompt_version": [f"v{i}" for i in rng.integers(1, 3, n)],
        "model": [MODELS[i] for i in rng.integers(0, len(MODELS), n)],
        "response_model": [None] * n,
        "provider": ["openai"] * n,
        "environment": [ENVS[i] for i in rng.integers(0, len(ENVS), n)],
        "feature": [f"f{i}" for i in rng.integers(0, 3, n)],
        "user_id": [None if rng.random() < 0.1 else f"u{i}" for i in rng.integers(0, 300, n)],
        "session_id": [None] * n,
        "service": [None] * n,
        "tags": [[] for _ in range(n)],
        "metadata": [None] * n,
        "status": list(status),
        "error_type": [
            ERRORS[i] if s == "error" else None
            for i, s in zip(rng.integers(0, 3, n), status, strict=True)
        ],
        "error_message": [None] * n,
        "http_status": [None] * n,
        "latency_ms": latency,
        "ttft_ms": [None if np.isnan(x) else float(x) for x in ttft],
        "queue_ms": [None] * n,
        "input_tokens": inp,
        "output_tokens": out,
        "cached_tokens": inp // 4,
        "reasoning_tokens": out // 8,
        "cache_write_tokens": inp // 7,
        "cost_usd": [None if np.isnan(x) else float(x) for x in cost],
        "cache_hit": list(rng.random(n) < 0.05),
        "retries": rng.integers(0, 2, n).astype(np.int32),
        "received_at": [(received or datetime.now(UTC)).replace(tzinfo=None)] * n,
        "price_ref": [None] * n,
    }
    return pa.table(cols, schema=CALL_SCHEMA)


def write(store: DuckStore, table: pa.Table) -> None:
    writer = Writer(store)
    writer.start()
    try:
        for i in range(0, table.num_rows, 20_000):
            writer.write_sync("events", table.slice(i, 20_000))
    finally:
        writer.stop()


def write_direct(store: DuckStore, table: pa.Table) -> None:
    """One transaction on the store's writer cursor (what the writer thread does), no dedupe."""
    w = store.writer()
    w.begin()
    w.insert_events(table)
    w.commit()
