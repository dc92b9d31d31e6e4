"""ingest/otlp.py, pure: OTLP spans in every naming the ecosystem uses -> call records."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from promptpulse.errors import BadRequest
from promptpulse.ingest import otlp
from promptpulse.ingest.pipeline import prepare_events

T0 = 1_767_268_800_000_000_000  # 2026-01-01T12:00:00Z in ns
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
    if isinstance(v, dict):
        return AnyValue(kvlist_value=KeyValueList(values=kvs(v)))
    raise TypeError(v)


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in attrs.items()]


def span(
    attrs: dict[str, Any],
    *,
    n: int = 1,
    latency_ms: float = 250.0,
    status: int = Status.STATUS_CODE_UNSET,
    message: str = "",
    events: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
    name: str = "chat gpt-4o-mini",
) -> Span:
    s = Span(
        trace_id=TRACE,
        span_id=n.to_bytes(8, "big"),
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + int(latency_ms * 1_000_000),
        attributes=kvs(attrs),
        status=Status(code=status, message=message),  # type: ignore[arg-type]
    )
    for event_name, offset_ns, event_attrs in events:
        s.events.add(name=event_name, time_unix_nano=T0 + offset_ns, attributes=kvs(event_attrs))
    return s


def request(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    rs = ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])
    rs.resource.attributes.extend(kvs(resource or {"service.name": "checkout"}))
    return ExportTraceServiceRequest(resource_spans=[rs])


def one(*spans: Span, resource: dict[str, Any] | None = None) -> dict[str, Any]:
    mapped = otlp.map_request(request(*spans, resource=resource))
    assert mapped.rejected == [] and len(mapped.records) == 1, mapped
    return mapped.records[0]


def stored(records: list[dict[str, Any]]) -> Any:
    """The records through the real validation and pricing of /v1/events."""
    return prepare_events(
        orjson.dumps({"events": records}),
        key_project="shop",
        overrides=lambda project, model, day: None,
        now=NOW,
        max_events=10_000,
    )


# --- naming families ---------------------------------------------------------------------------


def test_otel_genai_latest_names() -> None:
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 21,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.usage.cache_read.input_tokens": 16,
                "gen_ai.usage.reasoning.output_tokens": 3,
                "gen_ai.conversation.id": "conv-1",
                "gen_ai.response.time_to_first_chunk": 0.125,
                "gen_ai.request.stream": True,
                "server.address": "api.openai.com",
            },
            latency_ms=812.5,
        )
    )
    assert record == {
        "id": f"otel-{TRACE.hex()}-0000000000000001",
        "timestamp": "2026-01-01T12:00:00+00:00",
        "model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18",
        "provider": "openai",
        "latency_ms": 812.5,
        "ttft_ms": 125.0,
        "service": "checkout",
        "session_id": "conv-1",
        "input_tokens": 21,
        "output_tokens": 7,
        "cached_tokens": 16,
        "cache_write_tokens": 0,
        "reasoning_tokens": 3,
        "metadata": {
            "operation": "chat",
            "trace_id": TRACE.hex(),
            "span_id": "0000000000000001",
            "stream": True,
        },
    }
    prepared = stored([record])
    assert prepared.rejected == []
    row = prepared.table.to_pylist()[0]
    assert row["cost_usd"] is not None and row["cost_usd"] > 0
    assert row["provider"] == "openai"


def test_otel_genai_older_names_without_operation_name() -> None:
    # Conventions up to v1.26: gen_ai.system (capitalised by some tools), prompt/completion tokens.
    record = one(
        span(
            {
                "gen_ai.system": "OpenAI",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 100,
                "gen_ai.usage.completion_tokens": 40,
                "gen_ai.user": "u-7",
            }
        )
    )
    assert (record["provider"], record["model"]) == ("openai", "gpt-4o")
    assert (record["input_tokens"], record["output_tokens"], record["user_id"]) == (100, 40, "u-7")


def test_openinference_names() -> None:
    record = one(
        span(
            {
                "openinference.span.kind": "LLM",
                "llm.system": "openai",
                "llm.provider": "azure",
                "llm.model_name": "gpt-4o-mini-2024-07-18",
                "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0}',
                "llm.token_count.prompt": 21,
                "llm.token_count.completion": 7,
                "llm.token_count.total": 28,
                "llm.token_count.prompt_details.cache_read": 16,
                "llm.token_count.completion_details.reasoning": 3,
                "llm.input_messages.0.message.content": "SECRET PROMPT TEXT",
                "output.value": "SECRET ANSWER TEXT",
                "session.id": "s-1",
                "user.id": "u-1",
            },
            name="ChatCompletion",
            events=[("First Token Stream Event", 40_000_000, {})],
        )
    )
    # OpenInference: llm.provider is who hosts the model (what prices it), llm.system the family.
    assert record["provider"] == "azure"
    assert record["model"] == "gpt-4o-mini"  # the requested model, from the invocation parameters
    assert record["response_model"] == "gpt-4o-mini-2024-07-18"
    assert (record["input_tokens"], record["output_tokens"]) == (21, 7)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (16, 3)
    assert record["ttft_ms"] == 40.0
    assert (record["session_id"], record["user_id"]) == ("s-1", "u-1")
    assert b"SECRET" not in orjson.dumps(record)


def test_openinference_served_model_when_no_request_model() -> None:
    record = one(span({"openinference.span.kind": "LLM", "llm.model_name": "claude-3-5-sonnet"}))
    assert record["model"] == "claude-3-5-sonnet"


def test_openllmetry_traceloop_names() -> None:
    record = one(
        span(
            {
                "llm.request.type": "chat",
                "gen_ai.system": "OpenAI",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.prompt_tokens": 21,
                "gen_ai.usage.completion_tokens": 7,
                "gen_ai.usage.cache_read_input_tokens": 16,
                "gen_ai.usage.reasoning_tokens": 3,
                "llm.usage.total_tokens": 28,
                "llm.is_streaming": False,
                "llm.user": "u-9",
                "gen_ai.prompt.0.content": "SECRET PROMPT TEXT",
            },
            name="openai.chat",
        )
    )
    assert (record["provider"], record["model"], record["user_id"]) == (
        "openai",
        "gpt-4o-mini",
        "u-9",
    )
    assert (record["input_tokens"], record["output_tokens"]) == (21, 7)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (16, 3)
    assert record["metadata"]["stream"] is False
    assert b"SECRET" not in orjson.dumps(record)


def test_traceloop_062_names_with_api_base_and_no_provider() -> None:
    record = one(
        span(
            {
                "llm.request.type": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 21,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.usage.cache_read.input_tokens": 16,
                "gen_ai.is_streaming": True,
                "gen_ai.openai.api_base": "https://api.openai.com/v1/",
            }
        )
    )
    assert record["provider"] == "openai"
    assert record["metadata"]["stream"] is True


def test_embeddings_and_completions_are_their_own_operations() -> None:
    mapped = otlp.map_request(
        request(
            span({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "e-3"}, n=1),
            span({"llm.request.type": "completion", "gen_ai.request.model": "davinci"}, n=2),
            span({"openinference.span.kind": "EMBEDDING", "llm.model_name": "e-3"}, n=3),
        )
    )
    assert [r["metadata"]["operation"] for r in mapped.records] == [
        "embeddings",
        "text_completion",
        "embeddings",
    ]


def test_prompt_environment_service_and_project_attributes() -> None:
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "promptpulse.prompt.id": "support-answer",
                "promptpulse.prompt.version": "v3",
                "promptpulse.feature": "helpdesk",
            }
        ),
        resource={
            "service.name": "support-bot",
            "deployment.environment.name": "prod",
            "deployment.environment": "old-name-loses",
            "promptpulse.project": "shop",
        },
    )
    assert record["prompt_id"] == "support-answer"
    assert record["prompt_version"] == "v3"
    assert record["feature"] == "helpdesk"
    assert record["service"] == "support-bot"
    assert record["environment"] == "prod"
    assert record["project"] == "shop"


def test_older_environment_name_and_resource_level_prompt() -> None:
    record = one(
        span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}),
        resource={"deployment.environment": "staging", "promptpulse.prompt.id": "p"},
    )
    assert (record["environment"], record["prompt_id"]) == ("staging", "p")
    assert "service" not in record and "project" not in record


# --- which spans are LLM calls ----------------------------------------------------------------


def test_non_llm_spans_are_skipped_and_counted() -> None:
    mapped = otlp.map_request(
        request(
            span(
                {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat"}, n=1
            ),
            span({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}, n=2),
            span({"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o"}, n=3),
            span({"openinference.span.kind": "CHAIN", "llm.model_name": "gpt-4o"}, n=4),
            span(
                {
                    "traceloop.span.kind": "workflow",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o",
                },
                n=5,
            ),
            span({}, n=6),
            span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, n=7),
        )
    )
    assert mapped.skipped == 6
    assert [r["id"][-1] for r in mapped.records] == ["7"]
    assert mapped.spans == 7


def test_span_name_and_kind_do_not_decide() -> None:
    internal = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, name="x")
    internal.kind = Span.SPAN_KIND_INTERNAL
    named_like_llm = span({"db.system": "postgresql"}, n=2, name="chat gpt-4o")
    mapped = otlp.map_request(request(internal, named_like_llm))
    assert len(mapped.records) == 1 and mapped.skipped == 1


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "events", "error_type", "http_status"),
    [
        ({"error.type": "RateLimitError"}, [], "rate_limit", None),
        ({"error.type": "openai.APITimeoutError"}, [], "timeout", None),
        ({"error.type": "APIConnectionError"}, [], "network", None),
        (
            {"error.type": "BadRequestError", "http.response.status_code": 400},
            [],
            "validation",
            400,
        ),
        ({"error.type": "429"}, [], "rate_limit", 429),
        ({"error.type": "InternalServerError"}, [], "llm_error", None),
        (
            {"error.type": "_OTHER"},
            [("exception", {"exception.type": "ReadTimeout"})],
            "timeout",
            None,
        ),
        (
            {},
            [("exception", {"exception.type": "ValueError", "exception.message": "boom"})],
            "other",
            None,
        ),
        ({"error.type": "Weird", "http.response.status_code": 503}, [], "llm_error", 503),
    ],
)
def test_error_spans(
    attrs: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
    error_type: str,
    http_status: int | None,
) -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
    record = one(
        span(
            {**base, **attrs},
            status=Status.STATUS_CODE_ERROR,
            events=[(name, 1000, a) for name, a in events],
        )
    )
    assert record["status"] == "error"
    assert record["error_type"] == error_type
    assert record.get("http_status") == http_status
    assert record["error_message"]
    assert stored([record]).rejected == []


def test_error_type_without_status_is_an_error_but_ok_status_wins() -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "error.type": "timeout"}
    unset = one(span(base, message="deadline exceeded"))
    assert (unset["status"], unset["error_type"]) == ("error", "timeout")
    assert unset["error_message"] == "deadline exceeded"
    ok = one(span(base, status=Status.STATUS_CODE_OK))
    assert "status" not in ok and "error_type" not in ok


def test_error_message_is_cut_to_2_kib() -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    record = one(span(base, status=Status.STATUS_CODE_ERROR, message="x" * 100_000))
    assert len(record["error_message"]) == 2048


# --- tokens ------------------------------------------------------------------------------------


def test_uncached_input_is_completed_with_cache_counts() -> None:
    # Some Anthropic instrumentations report input without the cache: 5 + 100 read + 20 written.
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-3-5-sonnet",
                "gen_ai.usage.input_tokens": 5,
                "gen_ai.usage.cache_read_input_tokens": 100,
                "gen_ai.usage.cache_creation_input_tokens": 20,
                "gen_ai.usage.output_tokens": 2,
                "gen_ai.usage.reasoning_tokens": 9,
            }
        )
    )
    assert (record["input_tokens"], record["cached_tokens"]) == (125, 100)
    assert record["cache_write_tokens"] == 20
    assert (record["output_tokens"], record["reasoning_tokens"]) == (11, 9)
    assert stored([record]).rejected == []


def test_consistent_splits_are_trusted() -> None:
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m",
                "gen_ai.usage.input_tokens": 200,
                "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.usage.cache_write.input_tokens": 50,
                "gen_ai.usage.output_tokens": 10,
                "gen_ai.usage.reasoning.output_tokens": 4,
            }
        )
    )
    assert (record["input_tokens"], record["cached_tokens"]) == (200, 100)
    assert record["cache_write_tokens"] == 50
    assert (record["output_tokens"], record["reasoning_tokens"]) == (10, 4)


# --- odd inputs --------------------------------------------------------------------------------


def test_odd_attribute_types_never_crash() -> None:
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": ["not", "a", "string"],  # array: ignored
                "llm.model_name": "from-the-fallback",
                "gen_ai.provider.name": {"nested": "map"},  # map: ignored
                "gen_ai.system": 42,  # an int where text is expected: taken as text
                "gen_ai.usage.input_tokens": "21",  # digits as a string
                "gen_ai.usage.output_tokens": 7.0,  # an integral double
                "gen_ai.usage.cache_read.input_tokens": -5,  # negative: ignored
                "gen_ai.usage.reasoning.output_tokens": math.nan,  # NaN: ignored
                "gen_ai.response.time_to_first_chunk": "soon",  # not a number: ignored
                "gen_ai.conversation.id": b"\x00\x01",  # bytes: ignored
                "user.id": True,  # a bool is not an id
                "llm.invocation_parameters": "{not json",
                "promptpulse.prompt.id": "",  # empty: absent
            }
        )
    )
    assert record["model"] == "from-the-fallback"
    assert record["provider"] == "42"
    assert (record["input_tokens"], record["output_tokens"]) == (21, 7)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (0, 0)
    for absent in ("ttft_ms", "session_id", "user_id", "prompt_id"):
        assert absent not in record
    assert stored([record]).rejected == []


def test_huge_attributes_are_cut_or_ignored() -> None:
    huge = "x" * 5_000_000
    record = one(
        span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m" * 1000,
                "gen_ai.input.messages": huge,
                "llm.invocation_parameters": '{"model": "' + huge + '"}',
                "promptpulse.prompt.version": "v" * 500,
                "user.id": "u" * 500,
            }
        )
    )
    assert len(record["model"]) == 200
    assert len(record["prompt_version"]) == 64
    assert len(record["user_id"]) == 200
    assert len(orjson.dumps(record)) < 4096
    assert stored([record]).rejected == []


def test_unusable_llm_spans_are_rejected_with_a_reason() -> None:
    no_model = span({"gen_ai.operation.name": "chat"}, n=1)
    no_end = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, n=2)
    no_end.end_time_unix_nano = 0
    backwards = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, n=3)
    backwards.end_time_unix_nano = T0 - 1
    no_start = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, n=4)
    no_start.start_time_unix_nano = 0
    mapped = otlp.map_request(request(no_model, no_end, backwards, no_start))
    assert mapped.records == []
    reasons = [r.describe() for r in mapped.rejected]
    assert (
        reasons[0] == "span 0000000000000001 ('chat gpt-4o-mini'): names no model "
        "(gen_ai.request.model, llm.model_name, ...)"
    )
    assert "end" in reasons[1] and "end" in reasons[2] and "start" in reasons[3]
    message = otlp.summarize(reasons, len(reasons))
    assert message.startswith("4 spans rejected: span 0000000000000001")


def test_summary_is_cut() -> None:
    message = otlp.summarize(["a reason " * 10] * 1000, 1000, limit=300)
    assert len(message) == 300 and message.endswith("...")


def test_spans_without_ids_get_a_stable_id() -> None:
    s = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
    s.trace_id, s.span_id = b"", b""
    first, second = one(s)["id"], one(s)["id"]
    assert first == second and first.startswith("otel-sha256-") and len(first) <= 128
    other = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m2"})
    other.trace_id, other.span_id = b"", b""
    assert one(other)["id"] != first


def test_empty_request_and_empty_resources() -> None:
    assert otlp.map_request(ExportTraceServiceRequest()).spans == 0
    empty = ExportTraceServiceRequest(resource_spans=[ResourceSpans()])
    assert otlp.map_request(empty).records == []


def test_timestamps_keep_microseconds() -> None:
    s = span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, latency_ms=1.5)
    s.start_time_unix_nano = T0 + 123_456_789
    s.end_time_unix_nano = T0 + 123_456_789 + 1_500_001
    record = one(s)
    assert record["timestamp"] == "2026-01-01T12:00:00.123456+00:00"
    assert record["latency_ms"] == 1.500001


def test_provider_from_url() -> None:
    assert otlp.provider_from_url("api.anthropic.com") == "anthropic"
    assert otlp.provider_from_url("https://api.openai.com/v1") == "openai"
    assert otlp.provider_from_url("myorg.openai.azure.com") == "azure"
    assert otlp.provider_from_url("127.0.0.1") is None


# --- decoding ----------------------------------------------------------------------------------


def _json_body(span_id_hex: str = "00f067aa0ba902b7") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": TRACE.hex(),
                                "spanId": span_id_hex,
                                "parentSpanId": "",
                                "name": "chat m",
                                "kind": 3,
                                "startTimeUnixNano": str(T0),
                                "endTimeUnixNano": T0 + 5_000_000,  # a number is accepted too
                                "attributes": [
                                    {
                                        "key": "gen_ai.operation.name",
                                        "value": {"stringValue": "chat"},
                                    },
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "12"},
                                    },
                                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 3}},
                                ],
                                "status": {"code": 2, "message": "boom"},
                                "links": [{"traceId": TRACE.hex(), "spanId": "0102030405060708"}],
                                "somethingFromTheFuture": {"x": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_json_encoding_hex_ids_int64_strings_enums_and_unknown_fields() -> None:
    decoded = otlp.decode_request(orjson.dumps(_json_body()), "json")
    s = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert s.trace_id == TRACE and s.span_id.hex() == "00f067aa0ba902b7"
    assert s.links[0].span_id.hex() == "0102030405060708"
    assert s.kind == Span.SPAN_KIND_CLIENT
    record = one(*decoded.resource_spans[0].scope_spans[0].spans, resource={"service.name": "svc"})
    assert record["id"] == f"otel-{TRACE.hex()}-00f067aa0ba902b7"
    assert (record["input_tokens"], record["output_tokens"], record["latency_ms"]) == (12, 3, 5.0)
    assert record["status"] == "error"


def test_json_and_protobuf_decode_to_the_same_request() -> None:
    from_json = otlp.decode_request(orjson.dumps(_json_body()), "json")
    from_proto = otlp.decode_request(from_json.SerializeToString(), "protobuf")
    assert from_json == from_proto
    # protobuf's own JSON printer writes base64 ids; that is not OTLP JSON and is refused.
    printed = json_format.MessageToDict(from_proto)
    assert (
        printed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        == base64.b64encode(TRACE).decode()
    )
    with pytest.raises(BadRequest, match="traceId"):
        otlp.decode_request(orjson.dumps(printed), "json")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}),
        orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "0102"}]}]}]}),
        orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}),
        orjson.dumps({"resourceSpans": "no"}),
        orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": "x"}]}]}]}),
        orjson.dumps(
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "yesterday"}]}]}]}
        ),
    ],
)
def test_undecodable_json_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        otlp.decode_request(body, "json")


def test_empty_json_and_protobuf_bodies_are_empty_requests() -> None:
    assert otlp.decode_request(b"", "json") == ExportTraceServiceRequest()
    assert otlp.decode_request(b"{}", "json") == ExportTraceServiceRequest()
    assert otlp.decode_request(b"", "protobuf") == ExportTraceServiceRequest()


def test_undecodable_protobuf_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        otlp.decode_request(b"\xff\xff\xff\xff not protobuf", "protobuf")
