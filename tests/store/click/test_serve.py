"""`promptpulse serve` on ClickHouse (PROMPTPULSE_STORE_URL=chdb:///…) end to end, as a real
subprocess: ingest with duplicates, overview, hourly series and breakdown against numpy, then a
SIGKILL right after an acknowledgement and a restart: every acknowledged call is there once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from tests.cli.helpers import CLI
from tests.conftest import free_port, iso

pytestmark = pytest.mark.slow
pytest.importorskip("chdb")
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
RANGE = {"from": iso(NOW - timedelta(days=1)), "to": iso(NOW + timedelta(hours=1))}
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet")


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PROMPTPULSE_STORE_URL": f"chdb:///{data_dir / 'clickhouse'}"}
    proc = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data_dir), "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("serve did not start")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], kill: bool = False) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    proc.wait(timeout=60)
    if proc.stderr:
        proc.stderr.close()


def test_serve_on_chdb_end_to_end(tmp_path: Path) -> None:
    meta = MetaDB(Settings(data_dir=tmp_path).metadata_db_url)
    _, key = create_key(meta, "ch", frozenset({Scope.INGEST, Scope.READ}))
    meta.close()
    rng = np.random.default_rng(11)
    n = 600
    latency = rng.lognormal(6, 0.8, n).round(3)
    models = [MODELS[i] for i in rng.integers(0, len(MODELS), n)]
    hours = rng.integers(1, 20, n)
    events = [
        {
            "id": f"e{i}",
            "timestamp": iso(NOW - timedelta(hours=int(hours[i])) + timedelta(seconds=i % 3000)),
            "model": models[i],
            "latency_ms": float(latency[i]),
            "input_tokens": 10,
            "output_tokens": 2,
        }
        for i in range(n)
    ]
    proc, url = serve(tmp_path)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            for i in range(0, n, 200):
                r = c.post("/v1/events", json={"events": events[i : i + 200]})
                assert r.json() == {"accepted": 200, "duplicates": 0, "rejected": []}
            again = c.post("/v1/events", json={"events": events[:50]}).json()
            assert again == {"accepted": 0, "duplicates": 50, "rejected": []}
    finally:
        stop(proc, kill=True)  # right after the acknowledgements: no graceful shutdown
    proc, url = serve(tmp_path)
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            o = c.get("/v1/metrics/overview", params=RANGE).json()
            assert o["requests"] == n
            for q in (50, 95, 99):
                want_q = np.percentile(latency, q)
                assert o["latency_ms"][f"p{q}"] == pytest.approx(want_q, rel=1e-9)
            assert o["latency_ms"]["mean"] == pytest.approx(latency.mean(), rel=1e-9)
            ts = c.get("/v1/metrics/timeseries", params={**RANGE, "interval": "hour"}).json()
            points = {p["t"]: p["requests"] for s in ts["series"] for p in s["points"]}
            want = {iso(NOW - timedelta(hours=int(h))): int((hours == h).sum()) for h in set(hours)}
            assert {t: v for t, v in points.items() if v} == want
            rows = c.get("/v1/metrics/breakdown", params={**RANGE, "by": "model"}).json()["rows"]
            assert {r["model"]: r["requests"] for r in rows} == {
                m: models.count(m) for m in MODELS if m in models
            }
    finally:
        stop(proc)
