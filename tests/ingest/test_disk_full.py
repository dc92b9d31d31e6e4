"""A full disk (a real one: a 6 MB tmpfs holding the data directory): writes answer 503 with
Retry-After, reads keep working, /readyz says why, and once space is freed the server writes
again by itself, without a restart (issue 17, item 8). Needs root to mount; skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import InProcessApp, in_process_app

RANGE = {"from": "2026-11-29T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture(scope="module")
def app(small_disk: Path) -> Iterator[InProcessApp]:
    yield from in_process_app(
        small_disk / "data",
        alerts_interval_s=0,
        rollup_interval_s=0,
        retention_interval_s=0,
        reports_interval_s=0,
    )


def _batch(n: int, pad: int = 0) -> dict:
    return {
        "events": [
            {
                "timestamp": "2026-11-30T12:00:00Z",
                "model": "m",
                "latency_ms": 1,
                "metadata": {"pad": uuid.uuid4().hex * pad} if pad else None,
            }
            for _ in range(n)
        ]
    }


def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(app: InProcessApp) -> None:
    ballast = app.settings.data_dir / "ballast"
    ballast.write_bytes(os.urandom(1_500_000))
    with app.client(app.key("p", "ingest,read")) as c:
        for _ in range(300):
            r = c.post("/v1/events", json=_batch(2000, pad=20))
            if r.status_code != 200:
                break
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "No space left" in r.json()["detail"]
        stored = c.get("/v1/metrics/overview", params=RANGE)
        assert stored.status_code == 200 and stored.json()["requests"] > 0
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "No space left" in ready.json()["detail"]

        ballast.unlink()
        for _ in range(50):  # "within seconds": the next write after space is back succeeds
            r = c.post("/v1/events", json=_batch(10))
            if r.status_code == 200:
                break
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        assert c.get("/readyz").status_code == 200
        after = c.get("/v1/metrics/overview", params=RANGE).json()["requests"]
        assert after == stored.json()["requests"] + 10
