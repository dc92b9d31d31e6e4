"""The JS client (`clients/js`): `node --test` against a real server and the fake OpenAI server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.fakes import start_fake_openai
from tests.sdk.helpers import stored

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def _npm_install() -> None:
    """Install the dev dependencies (openai) from package-lock.json when they are missing."""
    if (JS / "node_modules" / "openai" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required for the JS client tests (Node >= 18)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


def test_node_test_suite(live: LiveServer, project: str) -> None:
    node = shutil.which("node")
    assert node is not None, "node (>= 18) is required for the JS client tests"
    _npm_install()
    with start_fake_openai() as fake:
        env = {
            **os.environ,
            "PROMPTPULSE_URL": live.url,
            "PROMPTPULSE_API_KEY": live.key(project, "ingest,read"),
            "FAKE_OPENAI_URL": fake.url,
        }
        out = subprocess.run(
            [node, "--test", "test/"], cwd=JS, env=env, capture_output=True, text=True, timeout=120
        )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout
    rows = stored(live, project)
    by_prompt: dict[str | None, list[dict[str, object]]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt_id"], []).append(row)
    assert {k: len(v) for k, v in by_prompt.items()} == {
        "js-batch": 120, "js-wrap": 1, "js-stream": 1, "js-errors": 2, "js-track": 2, "js-exit": 4,
    }  # fmt: skip
    (wrap,) = by_prompt["js-wrap"]
    assert wrap["id"] == "js-call-1"
    assert (wrap["model"], wrap["provider"], wrap["prompt_version"]) == (
        "gpt-4o-mini-2024-07-18", "openai", "v1")  # fmt: skip
    assert (wrap["input_tokens"], wrap["output_tokens"]) == (21, 7)
    assert (wrap["cached_tokens"], wrap["reasoning_tokens"]) == (16, 3)
    assert wrap["cost_usd"] is not None and wrap["cost_usd"] > 0
    (stream,) = by_prompt["js-stream"]
    assert stream["ttft_ms"] is not None and 0 < stream["ttft_ms"] <= stream["latency_ms"]
    errors = sorted((r["error_type"], r["http_status"], r["model"]) for r in by_prompt["js-errors"])
    assert errors == [("rate_limit", 429, "fake-429"), ("timeout", None, "fake-slow")]
