"""Real `promptpulse serve` processes on free ports, sharing one metadata database: the
replicas of the scale-out mode, for tests that kill them (-9) and watch the others.

Each replica is `python -m promptpulse serve` with its settings in PROMPTPULSE_* variables and
its log in `<data_dir>/server.log`. The metadata (keys, alerts, the jobs lease, the change
sequence) is always shared; the event store too when a test passes `store_url` (one ClickHouse
engine behind tests/harness/chfront.py), else each replica keeps its own DuckDB data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    name: str
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def ready(self) -> dict[str, Any] | None:
        """/readyz, or None while it does not answer."""
        try:
            r = httpx.get(f"{self.url}/readyz", timeout=5)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, as when a machine is lost."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_replica(name: str, data_dir: Path, metadata_url: str, **settings: object) -> Replica:
    """A replica named `name`, started and answering /healthz. `settings` are Settings fields
    (e.g. lease_ttl_s=2), passed as PROMPTPULSE_<NAME>."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "PROMPTPULSE_DATA_DIR": str(data_dir),
        "PROMPTPULSE_PORT": str(port),
        "PROMPTPULSE_METADATA_URL": metadata_url,
        "PROMPTPULSE_REPLICA_ID": name,
        "PROMPTPULSE_ALLOWED_HOSTS": "127.0.0.1",  # the tests' webhook receivers
        **{f"PROMPTPULSE_{k.upper()}": str(v) for k, v in settings.items()},
    }
    log = (data_dir / "server.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptpulse.cli", "serve"], env=env, stdout=log, stderr=log
    )
    log.close()
    replica = Replica(name, data_dir, port, proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not replica.alive:
            raise RuntimeError(f"replica {name} exited at start:\n{replica.log()}")
        try:
            if httpx.get(f"{replica.url}/healthz", timeout=2).status_code == 200:
                return replica
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    replica.stop()
    raise RuntimeError(f"replica {name} did not start:\n{replica.log()}")


def wait_for(what: str, check: Any, timeout_s: float = 30, every_s: float = 0.1) -> Any:
    """Poll `check()` until it returns something truthy; that value. Fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def start_front(path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The ClickHouse HTTP front over the chdb data at `path` (tests/harness/chfront.py) as its
    own process on `port`, answering /ping; its output appended to `log`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.chfront", "--path", str(path),
             "--port", str(port)], cwd=SRC.parent, stdout=out, stderr=out,
        )  # fmt: skip
    wait_for("the ClickHouse front", lambda: _front_pings(port), 60)
    return proc


def _front_pings(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).text == "Ok.\n"
    except httpx.HTTPError:
        return False
