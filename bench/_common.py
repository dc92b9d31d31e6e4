"""Helpers for the benchmarks: run a real server as a subprocess and read its memory."""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "promptpulse")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_key(data_dir: Path, project: str | None, scopes: str) -> str:
    args = [CLI, "keys", "create", "--scopes", scopes, "--data-dir", str(data_dir)]
    if project:
        args += ["--project", project]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


class Server:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, **{f"PROMPTPULSE_{k.upper()}": v for k, v in env.items()}}
        self.proc = subprocess.Popen(
            [
                CLI,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=environ,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process, in MB."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
            if ":" in line
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_latency_ms(wrk_out: str, percent: str) -> float:
    """A percentile of wrk's `--latency` distribution, in ms (NaN when it is not there)."""
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", wrk_out, re.M)
    return float(found.group(1)) * _UNIT_MS[found.group(2)] if found else float("nan")


def cpu_model() -> str:
    """The machine's CPU, printed beside every figure (absolute figures move with it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


OVERVIEW_SERIES = (
    "requests,successes,errors,success_rate,latency_p50_ms,latency_p95_ms,latency_p99_ms,"
    "input_tokens,output_tokens,tokens,cost_usd,active_users"
)


def overview_requests(
    span: timedelta, interval: str | None = None
) -> dict[str, tuple[str, dict[str, str]]]:
    """The API calls the dashboard's Overview sends on each load (`web/static/js/pages/
    overview.js`), over the range of `span` ending now; `interval`: the series' (the server's
    default when None)."""
    end = datetime.now(UTC).replace(microsecond=0)
    r = {"from": (end - span).isoformat(), "to": end.isoformat()}
    every = {"interval": interval} if interval else {}
    return {
        "overview + previous": ("/v1/metrics/overview", {**r, "compare": "previous"}),
        "series": ("/v1/metrics/timeseries", {**r, **every, "metrics": OVERVIEW_SERIES}),
        "errors series": ("/v1/metrics/timeseries", {**r, **every, "metrics": "requests",
                          "group_by": "error_type", "status": "error"}),
        "by model": ("/v1/metrics/breakdown", {**r, "by": "model",
                     "metrics": "requests,cost_usd", "limit": "12"}),
        "by prompt": ("/v1/metrics/breakdown", {**r, "by": "prompt_id", "limit": "1000",
                      "metrics": "requests,error_rate,latency_p95_ms"}),
        "forecast": ("/v1/forecast", {"metric": "cost_usd", "period": "month"}),
        "recent calls": ("/v1/calls", {**r, "limit": "25"}),
    }  # fmt: skip
