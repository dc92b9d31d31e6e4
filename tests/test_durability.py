"""A 2xx means on disk: `promptpulse serve` as a real subprocess, SIGKILLed right after an
acknowledgement or in the middle of a flood; after a restart every acknowledged id is there."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from tests.cli.helpers import CLI
from tests.conftest import free_port, iso

pytestmark = pytest.mark.slow
# Recent calls: start-up applies raw retention (90 days by default) to older ones.
NOW = datetime.now(UTC).replace(microsecond=0)
RANGE = {"from": iso(NOW - timedelta(days=2)), "to": iso(NOW + timedelta(days=1))}


class Served:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                *CLI,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("serve did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    meta = MetaDB(Settings(data_dir=tmp_path).metadata_db_url)
    _, key = create_key(meta, "durable", frozenset({Scope.INGEST, Scope.READ}))
    meta.close()
    yield tmp_path, key


def event(ident: str) -> dict:
    return {
        "id": ident,
        "timestamp": iso(NOW - timedelta(hours=1)),
        "model": "gpt-4o-mini",
        "latency_ms": 5,
        "input_tokens": 10,
        "output_tokens": 2,
    }


def stored_ids(data_dir: Path, key: str) -> set[str]:
    """Restart the server (proves it recovers), count over HTTP, then read the file itself."""
    server = Served(data_dir)
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as c:
            requests = c.get("/v1/metrics/overview", params=RANGE).json()["requests"]
    finally:
        server.stop()
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    try:
        ids = [
            r[0] for r in con.execute("SELECT id FROM events WHERE project = 'durable'").fetchall()
        ]
    finally:
        con.close()
    assert len(ids) == len(set(ids)) == requests
    return set(ids)


def test_sigkill_right_after_an_ack(data_dir: tuple[Path, str]) -> None:
    path, key = data_dir
    server = Served(path)
    acked: set[str] = set()
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as c:
            for b in range(4):
                batch = [event(f"b{b}-{i}") for i in range(250)]
                r = c.post("/v1/events", json={"events": batch})
                assert r.status_code == 200, r.text
                acked |= {e["id"] for e in batch}
        workers = children(server.proc.pid)  # the parse workers, started by the first batch
    finally:
        server.kill()  # at once: no graceful shutdown, no checkpoint
    assert workers, "the server parsed in no worker process"
    deadline = time.monotonic() + 30  # they see their stdin close and exit
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, workers)), "parse workers outlived the killed server"
    assert stored_ids(path, key) == acked


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that died with it to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_sigkill_during_a_flood_loses_nothing_acknowledged(data_dir: tuple[Path, str]) -> None:
    path, key = data_dir
    server = Served(path)
    acked: set[str] = set()
    sent: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def flood(worker: int) -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as c:
            n = 0
            while not stop.is_set():
                batch = [event(f"w{worker}-{n}-{i}") for i in range(100)]
                n += 1
                with lock:
                    sent.update(e["id"] for e in batch)
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.TransportError:
                    return  # the server died under us: this batch was never acknowledged
                if r.status_code == 200:
                    assert r.json()["accepted"] + r.json()["duplicates"] == 100
                    with lock:
                        acked.update(e["id"] for e in batch)

    threads = [threading.Thread(target=flood, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 3000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.kill()  # mid-flood: requests are in flight
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert len(acked) >= 3000
    found = stored_ids(path, key)
    assert acked <= found, f"{len(acked - found)} acknowledged events were lost"
    assert found <= sent
