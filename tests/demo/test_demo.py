"""The quickstart's first command: `promptpulse demo` seeds, prints a URL and a key, and serves
live traffic. Run as a real subprocess, as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import CLI
from tests.conftest import free_port


@pytest.mark.slow
def test_demo_seeds_prints_a_working_key_and_keeps_traffic_flowing(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--days",
            "2",
            "--rpm",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if lines[-1].startswith("pp_") and any("API key" in x for x in lines):
                break
        output = "\n".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        assert re.search(r"seeded [\d,]+ calls over 2 days", output), output
        key = lines[-1].strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as client:
            week = {"from": "2000-01-01T00:00:00Z"}
            first = client.get("/v1/metrics/overview", params=week).json()
            assert first["requests"] > 1000
            assert len(first["errors_by_type"]) >= 5  # errors of many types
            prompts = client.get(
                "/v1/metrics/breakdown", params={**week, "by": "prompt_id", "limit": 50}
            ).json()
            assert len(prompts["rows"]) == 12
            assert client.get("/").status_code == 200  # the dashboard is served too
            later = first
            for _ in range(40):  # the live trickle adds calls while it runs
                time.sleep(0.5)
                later = client.get("/v1/metrics/overview", params=week).json()
                if later["requests"] > first["requests"]:
                    break
            assert later["requests"] > first["requests"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
