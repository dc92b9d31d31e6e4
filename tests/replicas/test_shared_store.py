"""Replicas sharing one real ClickHouse engine (chdb behind tests/harness/chfront.py) and one
PostgreSQL: ingest through both with the duplicates split across them counts each call once,
and every replica answers the same overview, percentiles equal to numpy's. (Three replicas and
a kill -9 mid-ingest: test_shared_engine.py.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from typing import Any

import numpy as np
import pytest

from promptpulse.meta import MetaDB, Scope, create_key
from tests.harness.replicas import Replica

pytestmark = pytest.mark.skipif(find_spec("chdb") is None, reason="chdb is not installed")


def calls(n: int, seed: int, prefix: str = "c") -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    start = NOW - timedelta(hours=2)
    return [
        {
            "id": f"{prefix}{i}",
            "timestamp": (start + timedelta(seconds=int(rng.integers(0, 3_600)))).isoformat(),
            "model": str(rng.choice(["m1", "m2"])),
            "latency_ms": float(rng.lognormal(6, 0.4)),
            "status": "success",
            "input_tokens": int(rng.integers(1, 500)),
            "output_tokens": int(rng.integers(1, 200)),
        }
        for i in range(n)
    ]


NOW = datetime.now(UTC)
RANGE = {
    "from": (NOW - timedelta(days=1)).isoformat(),
    "to": (NOW + timedelta(hours=1)).isoformat(),
}


def overview(r: Replica, key: str) -> dict[str, Any]:
    with r.client(key) as c:
        got = c.get("/v1/metrics/overview", params=RANGE)
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_duplicates_split_across_replicas_count_once(
    replicas: Callable[..., list[Replica]], shared_meta: MetaDB, front: str
) -> None:
    key = create_key(shared_meta, "shop", frozenset({Scope.INGEST, Scope.READ}))[1]
    group = replicas(2, alerts_interval_s=0, store_url=front)
    sent = calls(600, seed=3)
    halves = [sent[:400], sent[200:]]  # calls 200..399 reach both replicas

    def post(r: Replica, batch: list[dict[str, Any]]) -> None:
        with r.client(key) as c:
            for i in range(0, len(batch), 100):
                got = c.post("/v1/events", json={"events": batch[i : i + 100]})
                assert got.status_code == 200, got.text

    threads = [
        threading.Thread(target=post, args=(r, h)) for r, h in zip(group, halves, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = [overview(r, key) for r in group]
    assert seen[0] == seen[1]
    got = seen[0]
    assert got["requests"] == 600
    assert got["tokens"]["input"] == sum(c["input_tokens"] for c in sent)
    assert got["tokens"]["total"] == sum(c["input_tokens"] + c["output_tokens"] for c in sent)
    latency = np.array([c["latency_ms"] for c in sent])
    for q in (50, 95, 99):
        assert got["latency_ms"][f"p{q}"] == pytest.approx(np.percentile(latency, q), rel=1e-9)
