"""The JS client (`clients/js`): `node --test` against a real server and the fake OpenAI server."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from tests.conftest import LiveServer
from tests.fakes import FakeUsage, start_fake_anthropic, start_fake_openai
from tests.sdk.helpers import stored

JS = Path(__file__).resolve().parents[2] / "clients" / "js"
ANTHROPIC_USAGE = FakeUsage(
    input_tokens=1200, output_tokens=90, cached_tokens=900, reasoning_tokens=0,
    cache_write_tokens=100,
)  # fmt: skip


def _npm_install() -> None:
    """Install the dev dependencies (openai, @anthropic-ai/sdk) from package-lock.json when they
    are missing."""
    modules = JS / "node_modules"
    if all((modules / name / "package.json").exists() for name in ("openai", "@anthropic-ai/sdk")):
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required for the JS client tests (Node >= 18)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


def test_node_test_suite(live: LiveServer, project: str) -> None:
    node = shutil.which("node")
    assert node is not None, "node (>= 18) is required for the JS client tests"
    _npm_install()
    with start_fake_openai() as fake, start_fake_anthropic() as fake_anthropic:
        fake_anthropic.usage = ANTHROPIC_USAGE
        env = {
            **os.environ,
            "PROMPTPULSE_URL": live.url,
            "PROMPTPULSE_API_KEY": live.key(project, "ingest,read"),
            "FAKE_OPENAI_URL": fake.url,
            "FAKE_ANTHROPIC_URL": fake_anthropic.url,
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
        "js-anthropic": 3,
    }  # fmt: skip
    (wrap,) = by_prompt["js-wrap"]
    assert wrap["id"] == "js-call-1"
    assert (wrap["model"], wrap["provider"], wrap["prompt_version"]) == (
        "gpt-4o-mini", "openai", "v1")  # fmt: skip
    assert wrap["response_model"] == "gpt-4o-mini-2024-07-18"
    assert (wrap["input_tokens"], wrap["output_tokens"]) == (21, 7)
    assert (wrap["cached_tokens"], wrap["reasoning_tokens"]) == (16, 3)
    assert wrap["cost_usd"] is not None and wrap["cost_usd"] > 0
    (stream,) = by_prompt["js-stream"]
    assert stream["ttft_ms"] is not None and 0 < stream["ttft_ms"] <= stream["latency_ms"]
    errors = sorted((r["error_type"], r["http_status"], r["model"]) for r in by_prompt["js-errors"])
    assert errors == [("rate_limit", 429, "fake-429"), ("timeout", None, "fake-slow")]
    anth = {r["id"]: r for r in by_prompt["js-anthropic"]}
    u = ANTHROPIC_USAGE
    for ident in ("js-anth-json", "js-anth-stream"):
        row = anth[ident]
        assert (row["model"], row["provider"], row["prompt_version"]) == (
            "claude-sonnet-4-20250514", "anthropic", "v2")  # fmt: skip
        assert row["response_model"] == "claude-sonnet-4-20250514"
        assert [row[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens")] == [
            u.input_tokens, u.cached_tokens, u.cache_write_tokens]  # fmt: skip
        assert row["output_tokens"] == u.output_tokens
        want = calc_price(
            Usage(input_tokens=u.input_tokens, cache_read_tokens=u.cached_tokens,
                  cache_write_tokens=u.cache_write_tokens, output_tokens=u.output_tokens),
            model_ref="claude-sonnet-4-20250514", genai_request_timestamp=row["timestamp"],
        ).total_price  # fmt: skip
        assert math.isclose(row["cost_usd"], float(want), rel_tol=1e-12)
    assert anth["js-anth-json"]["ttft_ms"] is None
    assert 0 < anth["js-anth-stream"]["ttft_ms"] <= anth["js-anth-stream"]["latency_ms"]
    failed = anth["js-anth-429"]
    assert (failed["status"], failed["error_type"], failed["http_status"]) == (
        "error", "rate_limit", 429)  # fmt: skip
