"""ingest/otlp.py and otlp_calls.py, pure: one record per provider call, attribution from
ancestors, every scheme's TTFT/cost/error forms, Vercel `ai.*`, bad usage attributes reported."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from promptpulse.ingest import otlp
from promptpulse.model import canonical_provider
from tests.ingest.test_otlp_mapping import one, request, span, stored

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
OTHER_TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def child(s: Any, parent: int) -> Any:
    s.parent_span_id = parent.to_bytes(8, "big")
    return s


def price(model: str, i: int, c: int, w: int, o: int) -> float:
    found = calc_price(
        Usage(input_tokens=i, cache_read_tokens=c, cache_write_tokens=w, output_tokens=o),
        model_ref=model,
        genai_request_timestamp=datetime(2026, 1, 1, 12),
    )
    return float(found.total_price)


# --- one provider call, one record ------------------------------------------------------------


def test_openinference_parent_and_sdk_child_are_one_call() -> None:
    # OpenInference's LLM span (no cache-write, no response id) around the anthropic SDK's own
    # span (no input_tokens: it reports the cache and output only).
    parent = span(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "anthropic",
            "llm.model_name": "claude-sonnet-4-20250514",
            "llm.token_count.prompt": 1200,
            "llm.token_count.prompt_details.cache_read": 900,
            "llm.token_count.completion": 90,
            "llm.prompt_template.version": "v3",
        },
        n=1,
        latency_ms=300,
        name="Messages",
    )
    sdk = child(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4-20250514",
                "gen_ai.response.id": "msg_01abc",
                "gen_ai.response.model": "claude-sonnet-4-20250514",
                "gen_ai.usage.cache_read.input_tokens": 900,
                "gen_ai.usage.cache_write.input_tokens": 100,
                "gen_ai.usage.output_tokens": 90,
            },
            n=2,
            latency_ms=280,
            name="anthropic.messages.create",
        ),
        parent=1,
    )
    for order in ((parent, sdk), (sdk, parent)):
        mapped = otlp.map_request(request(*order))
        assert len(mapped.records) == 1 and mapped.merged == 1 and mapped.spans == 2
        [record] = mapped.records
        assert record["id"] == "otel-resp-msg_01abc"
        assert record["latency_ms"] == 300  # the outer span covers the whole call
        assert (record["input_tokens"], record["cached_tokens"]) == (1200, 900)
        assert (record["cache_write_tokens"], record["output_tokens"]) == (100, 90)
        assert record["response_model"] == "claude-sonnet-4-20250514"
        assert record["prompt_version"] == "v3"
        assert record["metadata"]["spans"] == 2
    row = stored(mapped.records).table.to_pylist()[0]
    want = price("claude-sonnet-4-20250514", 1200, 900, 100, 90)
    assert math.isclose(row["cost_usd"], want, rel_tol=1e-12)


def test_spans_in_two_traces_sharing_a_response_id_are_one_call_in_any_request() -> None:
    openllmetry = span(
        {**CHAT, "gen_ai.system": "openai", "gen_ai.response.id": "chatcmpl-9",
         "gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 7},
        n=1, latency_ms=120,
    )  # fmt: skip
    sdk = span(
        {**CHAT, "gen_ai.response.id": "chatcmpl-9", "gen_ai.usage.input_tokens": 21,
         "gen_ai.usage.cache_read.input_tokens": 16, "gen_ai.usage.output_tokens": 7},
        n=2, latency_ms=110,
    )  # fmt: skip
    sdk.trace_id = OTHER_TRACE
    together = otlp.map_request(request(openllmetry, sdk)).records
    assert len(together) == 1 and together[0]["cached_tokens"] == 16
    # Apart (two exports): the same record id, so the store keeps the first and drops the other.
    first, second = one(openllmetry), one(sdk)
    assert first["id"] == second["id"] == together[0]["id"] == "otel-resp-chatcmpl-9"


def test_sibling_calls_under_an_agent_span_stay_two_calls() -> None:
    agent = span({"gen_ai.operation.name": "invoke_agent", "promptpulse.prompt.id": "triage"}, n=1)
    first = child(span({**CHAT, "gen_ai.usage.input_tokens": 5}, n=2), parent=1)
    second = child(span({**CHAT, "gen_ai.usage.input_tokens": 8}, n=3), parent=1)
    mapped = otlp.map_request(request(agent, first, second))
    assert sorted(r["input_tokens"] for r in mapped.records) == [5, 8]
    assert {r["prompt_id"] for r in mapped.records} == {"triage"}  # from the agent span
    assert mapped.merged == 0 and mapped.skipped == 1


def test_nested_error_keeps_outer_outcome_and_inner_status() -> None:
    outer = span(
        {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini"},
        n=1, status=Status.STATUS_CODE_ERROR, message="boom", latency_ms=50,
    )  # fmt: skip
    inner = child(
        span({**CHAT, "error.type": "rate_limit_error", "http.response.status_code": 429},
             n=2, status=Status.STATUS_CODE_ERROR, latency_ms=40),
        parent=1,
    )  # fmt: skip
    [record] = otlp.map_request(request(outer, inner)).records
    assert (record["status"], record["error_type"], record["http_status"]) == (
        "error", "rate_limit", 429,
    )  # fmt: skip
    assert record["id"].endswith("-0000000000000001")


# --- attribution ------------------------------------------------------------------------------


def test_attribution_from_span_then_ancestors_then_resource() -> None:
    root = span({"promptpulse.prompt.id": "checkout", "promptpulse.prompt.version": "v2",
                 "user.id": "u-root"}, n=1)  # fmt: skip
    middle = child(span({"session.id": "s-9", "user.id": "u-middle"}, n=2), parent=1)
    llm = child(span({**CHAT, "gen_ai.usage.input_tokens": 3}, n=3), parent=2)
    own = child(span({**CHAT, "promptpulse.prompt.id": "own"}, n=4), parent=2)
    mapped = otlp.map_request(
        request(root, middle, llm, own, resource={"service.name": "s", "prompt.id": "res",
                                                  "ai.telemetry.functionId": "fn"})
    )  # fmt: skip
    by_span = {r["metadata"]["span_id"][-1]: r for r in mapped.records}
    assert by_span["3"]["prompt_id"] == "checkout" and by_span["3"]["prompt_version"] == "v2"
    assert (by_span["3"]["user_id"], by_span["3"]["session_id"]) == ("u-middle", "s-9")
    assert by_span["4"]["prompt_id"] == "own" and by_span["4"]["prompt_version"] == "v2"
    assert by_span["3"]["feature"] == "fn"  # nothing above names one: the resource does


def test_a_parent_cycle_does_not_hang() -> None:
    a = child(span({"promptpulse.prompt.id": "p"}, n=1), parent=2)
    b = child(span(CHAT, n=2), parent=1)
    assert one(a, b)["prompt_id"] == "p"


# --- the Vercel AI SDK ------------------------------------------------------------------------


def test_vercel_inner_call_span_with_usage_ttft_and_telemetry_metadata() -> None:
    outer = span({"ai.operationId": "ai.streamText", "operation.name": "ai.streamText",
                  "ai.model.id": "gpt-4o-mini", "ai.model.provider": "openai.chat",
                  "ai.usage.inputTokens": 21, "ai.usage.outputTokens": 7}, n=1)  # fmt: skip
    inner = child(
        span(
            {
                "ai.operationId": "ai.streamText.doStream",
                "ai.model.id": "gpt-4o-mini",
                "ai.model.provider": "openai.chat",
                "gen_ai.system": "openai.chat",
                "ai.response.model": "gpt-4o-mini-2024-07-18",
                "ai.response.id": "chatcmpl-v",
                "ai.usage.inputTokens": 21,
                "ai.usage.cachedInputTokens": 16,
                "ai.usage.outputTokens": 7,
                "ai.usage.reasoningTokens": 3,
                "ai.response.msToFirstChunk": 42.5,
                "ai.telemetry.metadata.userId": "u-1",
                "ai.telemetry.metadata.promptId": "support",
                "ai.telemetry.metadata.promptVersion": "v4",
                "ai.telemetry.functionId": "answer",
            },
            n=2,
        ),
        parent=1,
    )
    embed = span({"ai.operationId": "ai.embed.doEmbed", "ai.model.id": "text-embedding-3-small",
                  "ai.model.provider": "openai.embedding", "ai.usage.tokens": 9}, n=3)  # fmt: skip
    mapped = otlp.map_request(request(outer, inner, embed))
    assert mapped.skipped == 1 and len(mapped.records) == 2
    chat, embedding = mapped.records
    assert (chat["model"], chat["response_model"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert [chat[k] for k in ("input_tokens", "cached_tokens", "output_tokens",
                              "reasoning_tokens")] == [21, 16, 7, 3]  # fmt: skip
    assert chat["ttft_ms"] == 42.5
    assert (chat["user_id"], chat["prompt_id"], chat["prompt_version"], chat["feature"]) == (
        "u-1", "support", "v4", "answer",
    )  # fmt: skip
    assert (embedding["metadata"]["operation"], embedding["input_tokens"]) == ("embeddings", 9)
    rows = stored(mapped.records).table.to_pylist()
    assert [r["provider"] for r in rows] == ["openai", "openai"]
    want = price("gpt-4o-mini", 21, 16, 0, 7)
    assert math.isclose(rows[0]["cost_usd"], want, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("openai.chat", "openai"), ("anthropic.messages", "anthropic"), ("gcp.gen_ai", "google"),
     ("google.generative-ai", "google"), ("x_ai", "x-ai"), ("OpenAI", "openai"),
     ("aws.bedrock", "aws"), ("mistral.chat", "mistral"), ("azure.ai.openai", "azure"),
     ("acme.chat", "acme.chat"), ("Acme", "acme")],
)  # fmt: skip
def test_provider_names_are_canonical(raw: str, canonical: str) -> None:
    assert canonical_provider(raw) == canonical


@pytest.mark.parametrize(
    ("provider", "model"), [("gcp.gen_ai", "gemini-2.5-flash"), ("x_ai", "grok-3")]
)
def test_otel_provider_names_get_priced(provider: str, model: str) -> None:
    record = one(span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                       "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 1000,
                       "gen_ai.usage.output_tokens": 100}))  # fmt: skip
    row = stored([record]).table.to_pylist()[0]
    assert row["provider"] == canonical_provider(provider)
    found = calc_price(Usage(input_tokens=1000, output_tokens=100), model_ref=model,
                       provider_id=row["provider"],
                       genai_request_timestamp=datetime(2026, 1, 1, 12))  # fmt: skip
    assert math.isclose(row["cost_usd"], float(found.total_price), rel_tol=1e-12)


# --- TTFT, cost, reasoning, errors ------------------------------------------------------------


def test_ttft_from_every_scheme() -> None:
    pydantic_ai = one(span({**CHAT, "gen_ai.client.operation.time_to_first_chunk": 0.2}))
    assert pydantic_ai["ttft_ms"] == pytest.approx(200)
    chunks = [("llm.content.completion.chunk", t, {}) for t in (50_000_000, 30_000_000)]
    assert one(span(CHAT, events=chunks))["ttft_ms"] == 30
    vercel_event = one(span(CHAT, events=[("ai.stream.firstChunk", 12_000_000, {})]))
    assert vercel_event["ttft_ms"] == 12
    assert "ttft_ms" not in one(span(CHAT))


def test_litellm_reasoning_and_its_own_cost_when_no_price_is_known() -> None:
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "acme",
             "gen_ai.request.model": "acme-llm-1", "gen_ai.usage.input_tokens": 10,
             "gen_ai.usage.output_tokens": 20, "gen_ai.usage.details.reasoning_tokens": 5,
             "gen_ai.cost.total_cost": 0.0042}  # fmt: skip
    mapped = otlp.map_request(request(span(attrs)))
    assert mapped.records[0]["reasoning_tokens"] == 5
    unpriced = prepare(mapped)
    assert unpriced["cost_usd"] == 0.0042
    known = otlp.map_request(request(span({**attrs, "gen_ai.request.model": "gpt-4o-mini",
                                           "gen_ai.system": "openai"})))  # fmt: skip
    priced = prepare(known)
    assert math.isclose(priced["cost_usd"], price("gpt-4o-mini", 10, 0, 0, 20), rel_tol=1e-12)


def prepare(mapped: otlp.Mapped) -> dict[str, Any]:
    import orjson

    from promptpulse.ingest.pipeline import prepare_events

    prepared = prepare_events(
        orjson.dumps({"events": mapped.records}), key_project="shop",
        overrides=lambda p, m, d: None, now=datetime(2026, 1, 2, tzinfo=otlp.UTC),
        max_events=100, fallback_costs=mapped.fallback_costs,
    )  # fmt: skip
    return prepared.table.to_pylist()[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("exception_type", "text", "error_type", "http_status"),
    [
        ("AI_APICallError", 'Too many requests {"statusCode":429,"url":"x"}', "rate_limit", 429),
        ("openai.RateLimitError", "Error code: 429 - {'error': {}}", "rate_limit", 429),
        ("InternalServerError", "Error code: 500 - {}", "llm_error", 500),
        ("ModelHTTPError", "status_code: 400, model_name: gpt-4o, body: {}", "validation", 400),
        ("ModelRequestRejectedError", "status_code: 503, model_name: m", "llm_error", 503),
        ("APIStatusError", "Error code: 429 - slow down", "rate_limit", 429),
        ("APIStatusError", "Error code: 408", "timeout", 408),
        ("litellm.Timeout", "Request timed out", "timeout", None),
        ("SomethingElse", "no status here", "other", None),
    ],
)
def test_error_status_in_any_printed_form(
    exception_type: str, text: str, error_type: str, http_status: int | None
) -> None:
    record = one(
        span(CHAT, status=Status.STATUS_CODE_ERROR,
             events=[("exception", 1, {"exception.type": exception_type,
                                       "exception.message": text})])
    )  # fmt: skip
    assert (record["error_type"], record.get("http_status")) == (error_type, http_status)
    status_message_only = one(span(CHAT, status=Status.STATUS_CODE_ERROR, message=text))
    assert status_message_only.get("http_status") == http_status


# --- bad usage attributes ---------------------------------------------------------------------


def test_malformed_and_conflicting_usage_is_stored_with_what_is_valid_and_reported() -> None:
    mapped = otlp.map_request(
        request(
            span(
                {
                    **CHAT,
                    "gen_ai.usage.input_tokens": -5,
                    "gen_ai.usage.prompt_tokens": 30,
                    "llm.token_count.prompt": 31,
                    "gen_ai.usage.output_tokens": "seven",
                    "gen_ai.usage.cache_read.input_tokens": 1.5,
                    "gen_ai.usage.reasoning_tokens": 2,
                }
            ),
        )
    )
    [record] = mapped.records
    assert (record["input_tokens"], record["output_tokens"]) == (30, 2)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (0, 2)
    reasons = [w.reason for w in mapped.warnings]
    assert reasons == [
        "gen_ai.usage.input_tokens is not a whole number >= 0; ignored",
        "gen_ai.usage.prompt_tokens=30 disagrees with llm.token_count.prompt=31; "
        "kept gen_ai.usage.prompt_tokens",
        "gen_ai.usage.output_tokens is not a whole number >= 0; ignored",
        "gen_ai.usage.cache_read.input_tokens is not a whole number >= 0; ignored",
    ]
    assert stored(mapped.records).rejected == []


def scoped(*pairs: tuple[str, list[Any]]) -> Any:
    """A request whose spans come from the named instrumentation scopes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    scopes = []
    for name, spans in pairs:
        scope = ScopeSpans(spans=spans)
        scope.scope.name = name
        scopes.append(scope)
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=scopes)])


def timed(s: Any, start_ms: float, end_ms: float) -> Any:
    base = s.start_time_unix_nano
    s.start_time_unix_nano, s.end_time_unix_nano = (
        base + int(start_ms * 1e6), base + int(end_ms * 1e6),
    )  # fmt: skip
    return s


def test_failed_call_seen_by_two_scopes_is_one_call_and_concurrent_calls_stay_apart() -> None:
    failed = {**CHAT, "error.type": "RateLimitError"}
    # One failed call: OpenLLMetry's span around the SDK's own (siblings, no response id).
    outer = timed(span(failed, n=1, status=Status.STATUS_CODE_ERROR), 0, 30)
    inner = timed(span({**failed, "http.response.status_code": 429}, n=2,
                       status=Status.STATUS_CODE_ERROR), 2, 25)  # fmt: skip
    mapped = otlp.map_request(scoped(("openllmetry", [outer]), ("sdk", [inner])))
    [record] = mapped.records
    assert (record["http_status"], record["latency_ms"]) == (429, 30)
    # Two concurrent failed calls, each seen by both scopes: two records, each pairing tightly.
    o1 = timed(span(failed, n=11, status=Status.STATUS_CODE_ERROR), 0, 100)
    o2 = timed(span(failed, n=12, status=Status.STATUS_CODE_ERROR), 5, 90)
    i1 = timed(span(failed, n=21, status=Status.STATUS_CODE_ERROR), 1, 99)
    i2 = timed(span(failed, n=22, status=Status.STATUS_CODE_ERROR), 6, 89)
    both = otlp.map_request(scoped(("openllmetry", [o1, o2]), ("sdk", [i1, i2])))
    assert sorted(r["latency_ms"] for r in both.records) == [85, 100]
    # The same scope never pairs with itself: concurrent calls of one instrumentation.
    alone = otlp.map_request(scoped(("sdk", [timed(span(failed, n=31), 0, 100),
                                             timed(span(failed, n=32), 5, 90)])))  # fmt: skip
    assert len(alone.records) == 2


def test_vercel_anthropic_cache_from_provider_metadata() -> None:
    metadata = ('{"anthropic":{"usage":{"input_tokens":200,"output_tokens":90,'
                '"cache_creation_input_tokens":100,"cache_read_input_tokens":900}}}')  # fmt: skip
    record = one(span({"ai.operationId": "ai.generateText.doGenerate", "ai.model.id": CLAUDE_ID,
                       "gen_ai.system": "anthropic.messages", "gen_ai.usage.input_tokens": 200,
                       "gen_ai.usage.output_tokens": 90,
                       "ai.response.providerMetadata": metadata}))  # fmt: skip
    assert [record[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens")] == [
        1200, 900, 100,
    ]  # fmt: skip
    broken = one(span({**CHAT, "ai.response.providerMetadata": '{"anthropic": cache'}))
    assert broken["cached_tokens"] == 0


CLAUDE_ID = "claude-sonnet-4-20250514"


@pytest.mark.parametrize(
    ("message", "error_type", "http_status"),
    [("fake error 429", "rate_limit", 429),
     ("Rate limit reached for gpt-4o-mini on tokens per min", "rate_limit", None),
     ("The request timed out", "timeout", None)],
)  # fmt: skip
def test_vercel_api_call_error_typed_by_its_message(
    message: str, error_type: str, http_status: int | None
) -> None:
    record = one(span(CHAT, status=Status.STATUS_CODE_ERROR,
                      events=[("exception", 1, {"exception.type": "AI_APICallError",
                                                "exception.message": message})]))  # fmt: skip
    assert (record["error_type"], record.get("http_status")) == (error_type, http_status)
