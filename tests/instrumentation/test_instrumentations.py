"""Each real instrumentation package, from PyPI, against the fake providers, exporting OTLP to a
live PromptPulse: call by call, what lands is what the provider answered.

The packages run in their own venv (.venv-instr, scripts/instrumentation-env: their
OpenTelemetry pins clash with the project's) as a subprocess, `run_instrumented.py`, which
prints the spans it made; each call's record is checked against the fake's usage and those spans:
count (one record per provider call, however many spans describe it), requested and served model,
canonical provider, every token class, cost against genai-prices' `calc_price`, latency (the
duration of the span the record came from), TTFT on streams, error type and HTTP status, prompt
and user attribution. Where an instrumentation itself reports a wrong or missing number, the
expectation says so and is what its span says.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from genai_prices import Usage, calc_price

from promptpulse.model import Filter, Scope
from tests.conftest import LiveServer
from tests.fakes import (
    FakeServer,
    FakeUsage,
    start_fake_anthropic,
    start_fake_gemini,
    start_fake_openai,
)

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-instr" / "bin" / "python"
RUNNER = Path(__file__).with_name("run_instrumented.py")
OPENAI_USAGE = FakeUsage(input_tokens=21, output_tokens=7, cached_tokens=16, reasoning_tokens=3)
ANTHROPIC_USAGE = FakeUsage(
    input_tokens=1200, output_tokens=90, cached_tokens=900, reasoning_tokens=0,
    cache_write_tokens=100,
)  # fmt: skip
COLUMNS = ["id", "model", "response_model", "provider", "input_tokens", "cached_tokens",
           "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "latency_ms",
           "ttft_ms", "status", "error_type", "http_status", "prompt_id", "prompt_version",
           "user_id", "session_id", "metadata", "timestamp"]  # fmt: skip


@dataclass(frozen=True)
class Expect:
    """What one instrumentation's three calls (JSON, stream, 429) must land as."""

    model: str
    provider: str
    served: str | None  # response_model of the successes
    usage: FakeUsage
    # Token counts per success call where the instrumentation's span differs from the truth.
    stream_tokens: dict[str, int] = field(default_factory=dict)
    json_tokens: dict[str, int] = field(default_factory=dict)
    stream_ttft: bool = True
    error_status: int | None = 429
    error_model: str = "fake-429"
    prompt: tuple[str | None, str | None, str | None] = ("greet", "v1", "u-1")
    calls: tuple[str, ...] = ("json", "stream", "error")


CLAUDE = "claude-sonnet-4-20250514"
NO_CACHE_NOR_REASONING = {"cached_tokens": 0, "reasoning_tokens": 0}
EXPECTED: dict[str, Expect] = {
    "openai-v2": Expect(
        # The official instrumentation (the project's own pin, with
        # OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental): no cache or reasoning
        # counts and no TTFT on its spans, so its cost misses the cache discount.
        "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", OPENAI_USAGE,
        json_tokens=NO_CACHE_NOR_REASONING, stream_tokens=NO_CACHE_NOR_REASONING,
        stream_ttft=False,
    ),
    "openllmetry-openai": Expect(
        "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", OPENAI_USAGE,
        # OpenLLMetry 0.62: no reasoning count on streamed calls (the span has none).
        stream_tokens={"reasoning_tokens": 0},
    ),
    "openllmetry-anthropic": Expect(
        # With the anthropic SDK's own span beside it: one record per call. Its stream span
        # counts one output token twice (91); the SDK's span (nearest the provider) says 90.
        CLAUDE, "anthropic", CLAUDE, ANTHROPIC_USAGE,
    ),
    "openinference-anthropic": Expect(
        # OpenInference 3.1 reports no output tokens on anthropic 2.x calls; the SDK's own span,
        # its child, does. Prompt version and session from OpenInference's using_attributes.
        CLAUDE, "anthropic", CLAUDE, ANTHROPIC_USAGE,
    ),
    "openinference-langchain": Expect(
        # llm.model_name is the served model on JSON calls but the requested one on streams.
        "gpt-4o-mini", "openai", None, OPENAI_USAGE, stream_ttft=False,
    ),
    "pydantic-ai": Expect(
        # Pydantic AI's ModelRateLimitError span names no HTTP status (type: rate_limit).
        "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", OPENAI_USAGE, error_status=None,
    ),
    "litellm": Expect(
        # LiteLLM 1.110 (otel callback): the span of a non-streamed completion is logged from a
        # worker thread that may not run before the process ends (not tested); its
        # stream span names no cache reads or reasoning (so its cost is priced without the
        # cache discount, where its own gen_ai.cost.total_cost has it); it is a root span, not
        # under the app's span, so it carries no attribution. The failed call's attributes go
        # on the app's current span.
        "gpt-4o-mini", "openai", "gpt-4o-mini", OPENAI_USAGE,
        stream_tokens={"cached_tokens": 0, "reasoning_tokens": 0}, stream_ttft=False,
        calls=("stream", "error"),
    ),
    "google-genai": Expect(
        "gemini-2.5-flash", "google", "gemini-2.5-flash-001", OPENAI_USAGE,
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def instrumentation_env() -> Path:
    """The separate venv (cached; built from the configured package index on first use)."""
    subprocess.run([str(ROOT / "scripts" / "instrumentation-env")], check=True, timeout=1800)
    return PYTHON


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeServer]]:
    servers = {
        "OPENAI_URL": start_fake_openai(),
        "ANTHROPIC_URL": start_fake_anthropic(),
        "GEMINI_URL": start_fake_gemini(),
    }
    servers["OPENAI_URL"].usage = OPENAI_USAGE
    servers["ANTHROPIC_URL"].usage = ANTHROPIC_USAGE
    servers["GEMINI_URL"].usage = OPENAI_USAGE
    yield servers
    for server in servers.values():
        server.stop()


def run(name: str, python: Path, live: LiveServer, fakes: dict[str, FakeServer]) -> list[Any]:
    env = {**os.environ, "PP_URL": live.url, "PP_KEY": live.key(name),
           **{k: f.url for k, f in fakes.items()}}  # fmt: skip
    env.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
    if name == "openai-v2":  # pinned in the project's own venv (dev extra), newest names on
        python = Path(sys.executable)
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    done = subprocess.run(
        [str(python), str(RUNNER), name], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def stored(live: LiveServer, project: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    scope = Scope(now - timedelta(hours=1), now + timedelta(hours=1),
                  (Filter("project", (project,)),))  # fmt: skip
    rows = live.ctx.store.calls(scope, COLUMNS, 100, newest_first=False)
    return [{**r, "metadata": orjson.loads(r["metadata"] or "{}")} for r in rows]


def reference_cost(row: dict[str, Any]) -> float:
    found = calc_price(
        Usage(input_tokens=row["input_tokens"], cache_read_tokens=row["cached_tokens"],
              cache_write_tokens=row["cache_write_tokens"], output_tokens=row["output_tokens"]),
        model_ref=row["model"], provider_id=row["provider"],
        genai_request_timestamp=row["timestamp"],
    )  # fmt: skip
    return float(Decimal(found.total_price))


def want_tokens(expect: Expect, call: str) -> dict[str, int]:
    u = expect.usage
    truth = {"input_tokens": u.input_tokens, "cached_tokens": u.cached_tokens,
             "cache_write_tokens": u.cache_write_tokens, "output_tokens": u.output_tokens,
             "reasoning_tokens": u.reasoning_tokens}  # fmt: skip
    return {**truth, **(expect.stream_tokens if call == "stream" else expect.json_tokens)}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_instrumentation_lands_call_by_call(
    name: str, instrumentation_env: Path, live: LiveServer, fakes: dict[str, FakeServer]
) -> None:
    expect = EXPECTED[name]
    spans = run(name, instrumentation_env, live, fakes)
    by_id = {s["span_id"]: s for s in spans}
    rows = stored(live, name)
    # One record per provider call, in call order; the app spans are not calls.
    assert len(rows) == len(expect.calls), rows
    for call, row in zip(expect.calls, rows, strict=True):
        where = f"{name} {call}: {row}"
        source = by_id[row["metadata"]["span_id"]]
        assert row["latency_ms"] == pytest.approx((source["end"] - source["start"]) / 1e6), where
        assert row["provider"] == expect.provider, where
        if call == "error":
            assert row["model"] == expect.error_model, where
            assert (row["status"], row["error_type"]) == ("error", "rate_limit"), where
            assert row["http_status"] == expect.error_status, where
            assert row["cost_usd"] in (None, 0.0), where
            continue
        assert (row["status"], row["model"]) == ("success", expect.model), where
        if expect.served is not None:
            assert row["response_model"] == expect.served, where
        assert {k: row[k] for k in want_tokens(expect, call)} == want_tokens(expect, call), where
        assert math.isclose(row["cost_usd"], reference_cost(row), rel_tol=1e-12), where
        if call == "stream" and expect.stream_ttft:
            assert 0 < row["ttft_ms"] <= row["latency_ms"], where
        elif call == "json":
            assert row["ttft_ms"] is None, where
    attributed = [r for r, c in zip(rows, expect.calls, strict=True) if c != "stream"
                  or name != "litellm"]  # fmt: skip
    for row in attributed:
        assert (row["prompt_id"], row["prompt_version"], row["user_id"]) == expect.prompt, row


VERCEL_DIR = ROOT / ".instr-node"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_vercel_ai_sdk_lands_call_by_call(
    instrumentation_env: Path, live: LiveServer, fakes: dict[str, FakeServer]
) -> None:
    """ai 5 with experimental_telemetry (the `ai.*` attributes), @ai-sdk/openai and
    @ai-sdk/anthropic: generateText, streamText, a 429, and an Anthropic call with cache."""
    shutil.copy(Path(__file__).parent / "vercel" / "run.mjs", VERCEL_DIR / "run.mjs")
    env = {**os.environ, "PP_URL": live.url, "PP_KEY": live.key("vercel"),
           **{k: f.url for k, f in fakes.items()}}  # fmt: skip
    done = subprocess.run(["node", "run.mjs"], cwd=VERCEL_DIR, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    spans = {s["span_id"]: s for s in json.loads(done.stdout.strip().splitlines()[-1])}
    rows = stored(live, "vercel")
    # The outer ai.generateText / ai.streamText spans repeat their inner call: not counted.
    assert [r["model"] for r in rows] == ["gpt-4o-mini", "gpt-4o-mini", "fake-429", CLAUDE]
    o, a = OPENAI_USAGE, ANTHROPIC_USAGE
    want = [
        # ai 5's generateText span names no cached or reasoning tokens (its streamText does).
        ("openai", "gpt-4o-mini-2024-07-18", (o.input_tokens, 0, 0, o.output_tokens, 0)),
        ("openai", "gpt-4o-mini-2024-07-18",
         (o.input_tokens, o.cached_tokens, 0, o.output_tokens, o.reasoning_tokens)),
        ("openai", None, (0, 0, 0, 0, 0)),
        # Anthropic's cache counts are only in ai.response.providerMetadata; its input_tokens
        # there exclude the cache.
        ("anthropic", CLAUDE,
         (a.input_tokens, a.cached_tokens, a.cache_write_tokens, a.output_tokens, 0)),
    ]  # fmt: skip
    tokens = ("input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens",
              "reasoning_tokens")  # fmt: skip
    for row, (provider, served, counts) in zip(rows, want, strict=True):
        source = spans[row["metadata"]["span_id"]]
        nanos = int(source["end"]) - int(source["start"])  # exact: decimal strings from JS
        assert row["latency_ms"] == pytest.approx(nanos / 1e6), row
        assert (row["provider"], row["response_model"]) == (provider, served), row
        assert tuple(row[k] for k in tokens) == counts, row
        # Its own attribution: telemetry metadata and functionId.
        assert (row["prompt_id"], row["prompt_version"], row["user_id"]) == ("greet", "v1", "u-1")
        if row["status"] == "success":
            assert math.isclose(row["cost_usd"], reference_cost(row), rel_tol=1e-12), row
    assert rows[0]["ttft_ms"] is None and 0 < rows[1]["ttft_ms"] <= rows[1]["latency_ms"]
    # AI_APICallError: the status is only in its message ("... error 429").
    assert (rows[2]["status"], rows[2]["error_type"], rows[2]["http_status"]) == (
        "error", "rate_limit", 429,
    )  # fmt: skip
