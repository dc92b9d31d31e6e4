"""POST /v1/traces on a real server, fed by the official OpenTelemetry SDK and its OTLP exporter,
by hand-made OTLP JSON, and by real instrumentation of the real `openai` client."""

from __future__ import annotations

import base64
import gzip
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from promptpulse.model import Filter, Scope
from tests.conftest import LiveServer, iso, start_server, stop_server

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
NS = 1_000_000  # per ms


def ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


# --- building spans with the real SDK ---------------------------------------------------------


def record_spans(resource: dict[str, Any], build: Any) -> list[ReadableSpan]:
    """Spans made by the SDK's own tracer (as an app would), collected in memory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("app"))
    provider.shutdown()
    return list(memory.get_finished_spans())


# (latency ms, input, output, cached, reasoning, ttft s or None, error.type or None)
CALLS = [
    (120, 100, 10, 0, 0, 0.05, None),
    (250, 200, 20, 50, 0, None, None),
    (380, 300, 30, 100, 5, 0.2, None),
    (410, 400, 40, 0, 0, None, "RateLimitError"),
    (975, 500, 50, 0, 10, 0.5, None),
]


def llm_workload(t0: datetime, prompt_version: str = "v1") -> Any:
    """Five chat calls under an HTTP server span, plus a tool span: what an app's trace holds."""

    def build(tracer: Any) -> None:
        with tracer.start_as_current_span(
            "POST /answer",
            kind=SpanKind.SERVER,
            start_time=ns(t0),
            attributes={"http.request.method": "POST"},
            end_on_exit=False,
        ) as root:
            start = ns(t0)
            for i, (ms, inp, out, cached, reasoning, ttft, error) in enumerate(CALLS):
                attrs: dict[str, Any] = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": inp,
                    "gen_ai.usage.output_tokens": out,
                    "gen_ai.usage.cache_read.input_tokens": cached,
                    "gen_ai.usage.reasoning.output_tokens": reasoning,
                    "promptpulse.prompt.id": "answer",
                    "promptpulse.prompt.version": prompt_version,
                    "gen_ai.conversation.id": f"conv-{i % 2}",
                }
                if ttft is not None:
                    attrs["gen_ai.response.time_to_first_chunk"] = ttft
                span = tracer.start_span(
                    "chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start, attributes=attrs
                )
                if error is not None:
                    span.set_attribute("error.type", error)
                    span.set_status(Status(StatusCode.ERROR, "rate limited"))
                span.end(end_time=start + ms * NS)
                start += (ms + 10) * NS
            tool = tracer.start_span(
                "execute_tool search",
                start_time=start,
                attributes={"gen_ai.operation.name": "execute_tool"},
            )
            tool.end(end_time=start + 5 * NS)
            root.end(end_time=start + 10 * NS)

    return build


RESOURCE = {"service.name": "support-bot", "deployment.environment.name": "prod"}


def exporter(live: LiveServer, key: str | None, **kwargs: Any) -> OTLPSpanExporter:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return OTLPSpanExporter(endpoint=f"{live.url}/v1/traces", headers=headers, timeout=30, **kwargs)


def overview(live: LiveServer, key: str, t0: datetime, **filters: str) -> dict[str, Any]:
    with live.client(key) as c:
        r = c.get(
            "/v1/metrics/overview",
            params={"from": iso(t0), "to": iso(t0 + timedelta(hours=1)), **filters},
        )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def assert_exact_figures(o: dict[str, Any]) -> None:
    latencies = np.array([c[0] for c in CALLS], dtype=float)
    ttfts = np.array([c[5] * 1000 for c in CALLS if c[5] is not None])
    assert (o["requests"], o["successes"], o["errors"]) == (5, 4, 1)
    assert o["errors_by_type"] == {"rate_limit": 1}
    for q in (50, 75, 90, 95, 99):
        assert o["latency_ms"][f"p{q}"] == pytest.approx(np.percentile(latencies, q), rel=1e-12)
    assert o["latency_ms"]["max"] == 975
    assert o["latency_ms"]["mean"] == pytest.approx(latencies.mean(), rel=1e-12)
    for q in (50, 95, 99):
        assert o["ttft_ms"][f"p{q}"] == pytest.approx(np.percentile(ttfts, q), rel=1e-12)
    assert o["tokens"]["input"] == 1500
    assert o["tokens"]["output"] == 150
    assert o["tokens"]["cached"] == 150
    assert o["tokens"]["total"] == 1650
    assert o["cost_usd"]["unpriced_requests"] == 0
    assert o["cost_usd"]["total"] > 0


def stored_calls(live: LiveServer, project: str, t0: datetime, columns: Sequence[str]) -> list[Any]:
    scope = Scope(
        t0.replace(tzinfo=None),
        (t0 + timedelta(hours=1)).replace(tzinfo=None),
        (Filter("project", (project,)),),
    )
    return live.ctx.store.calls(scope, list(columns), 1000, newest_first=False)  # type: ignore[no-any-return]


# --- protobuf through the official exporter ----------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_exporter_protobuf_overview_exact(
    live: LiveServer, project: str, compression: Compression
) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
    spans = record_spans(RESOURCE, llm_workload(t0))
    assert len(spans) == 7
    otlp_exporter = exporter(live, key, compression=compression)
    assert otlp_exporter.export(spans) == SpanExportResult.SUCCESS
    assert_exact_figures(overview(live, key, t0))
    assert overview(live, key, t0, service="support-bot")["requests"] == 5
    assert overview(live, key, t0, service="other")["requests"] == 0
    assert overview(live, key, t0, environment="prod", prompt_version="v1")["requests"] == 5
    # A re-sent export (an exporter retry) is stored once: ids come from trace and span ids.
    assert otlp_exporter.export(spans) == SpanExportResult.SUCCESS
    assert overview(live, key, t0)["requests"] == 5
    rows = stored_calls(live, project, t0, ["id", "provider", "model", "session_id", "metadata"])
    llm_spans = [s for s in spans if s.name.startswith("chat")]
    assert [r["id"] for r in rows] == [
        f"otel-{s.context.trace_id:032x}-{s.context.span_id:016x}" for s in llm_spans
    ]
    assert {(r["provider"], r["model"]) for r in rows} == {("openai", "gpt-4o-mini")}
    assert [r["session_id"] for r in rows] == ["conv-0", "conv-1"] * 2 + ["conv-0"]
    otlp_exporter.shutdown()


def test_partial_success_in_protobuf(live: LiveServer, project: str) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 5, 11, tzinfo=UTC)

    def build(tracer: Any) -> None:
        ok = tracer.start_span(
            "chat",
            start_time=ns(t0),
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"},
        )
        ok.end(end_time=ns(t0) + 100 * NS)
        no_model = tracer.start_span(
            "chat ?", start_time=ns(t0), attributes={"gen_ai.operation.name": "chat"}
        )
        no_model.end(end_time=ns(t0) + 100 * NS)
        future = tracer.start_span(
            "chat later",
            start_time=ns(t0) + 400 * 24 * 3600 * 10**9,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"},
        )
        future.end(end_time=ns(t0) + 400 * 24 * 3600 * 10**9 + NS)

    spans = record_spans(RESOURCE, build)
    body = encode_spans(spans).SerializeToString()
    with live.client(key) as c:
        r = c.post("/v1/traces", content=body, headers=PROTOBUF)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 2
    message = answer.partial_success.error_message
    assert message.startswith("2 spans rejected: ")
    assert "names no model" in message
    assert "timestamp: is more than 24 hours in the future" in message
    assert overview(live, key, t0)["requests"] == 1
    # The exporter treats a partial success as a success (and does not retry).
    assert exporter(live, key).export(spans) == SpanExportResult.SUCCESS


def test_empty_export_is_an_empty_success(live: LiveServer, project: str) -> None:
    key = live.key(project)
    with live.client(key) as c:
        proto = c.post("/v1/traces", content=b"", headers=PROTOBUF)
        as_json = c.post("/v1/traces", content=b"{}", headers=JSON)
    assert (proto.status_code, proto.content) == (200, b"")
    assert (as_json.status_code, as_json.json()) == (200, {})
    assert as_json.headers["content-type"] == "application/json"


# --- OTLP JSON, posted by hand -----------------------------------------------------------------


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """OTLP/JSON as the spec writes it: hex ids, integer enums, int64 as decimal strings."""
    document = json_format.MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for holder in (s, *s.get("links", [])):
                    for k in ("traceId", "spanId", "parentSpanId"):
                        if k in holder:
                            holder[k] = base64.b64decode(holder[k]).hex()
    return document


@pytest.mark.parametrize("gzipped", [False, True])
def test_json_overview_exact(live: LiveServer, project: str, gzipped: bool) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 6, 10, tzinfo=UTC)
    spans = record_spans(RESOURCE, llm_workload(t0, prompt_version="v2"))
    document = otlp_json(spans)
    first = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32 and isinstance(first["startTimeUnixNano"], str)
    body = orjson.dumps(document)
    headers = dict(JSON)
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    with live.client(key) as c:
        r = c.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.headers["content-type"], r.json()) == ("application/json", {})
    assert_exact_figures(overview(live, key, t0))
    rows = stored_calls(live, project, t0, ["id", "prompt_version", "service", "environment"])
    assert rows[0]["id"] == f"otel-{first['traceId']}-{first['spanId']}"
    assert {(r["prompt_version"], r["service"], r["environment"]) for r in rows} == {
        ("v2", "support-bot", "prod")
    }


def test_json_partial_success(live: LiveServer, project: str) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 6, 11, tzinfo=UTC)

    def build(tracer: Any) -> None:
        bad = tracer.start_span(
            "chat", start_time=ns(t0), attributes={"openinference.span.kind": "LLM"}
        )
        bad.end(end_time=ns(t0) + NS)

    document = otlp_json(record_spans(RESOURCE, build))
    with live.client(key) as c:
        r = c.post("/v1/traces", content=orjson.dumps(document), headers=JSON)
    assert r.status_code == 200
    assert r.json()["partialSuccess"]["rejectedSpans"] == "1"  # int64: a decimal string
    assert "names no model" in r.json()["partialSuccess"]["errorMessage"]


def test_bad_usage_attributes_stored_with_what_is_valid_and_told(
    live: LiveServer, project: str
) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 6, 12, tzinfo=UTC)

    def build(tracer: Any) -> None:
        odd = tracer.start_span(
            "chat",
            start_time=ns(t0),
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": -3,
                "gen_ai.usage.prompt_tokens": 40,
                "gen_ai.usage.output_tokens": "many",
                "gen_ai.usage.completion_tokens": 9,
                "llm.token_count.completion": 8,
            },
        )
        odd.end(end_time=ns(t0) + NS)

    document = otlp_json(record_spans(RESOURCE, build))
    with live.client(key) as c:
        r = c.post("/v1/traces", content=orjson.dumps(document), headers=JSON)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial.get("rejectedSpans", "0") == "0"  # stored: a warning, not a rejection
    assert "gen_ai.usage.input_tokens is not a whole number" in partial["errorMessage"]
    assert "gen_ai.usage.output_tokens is not a whole number" in partial["errorMessage"]
    assert (
        "completion_tokens=9 disagrees with llm.token_count.completion=8"
        in (partial["errorMessage"])
    )
    [row] = stored_calls(live, project, t0, ["input_tokens", "output_tokens", "cost_usd"])
    assert (row["input_tokens"], row["output_tokens"]) == (40, 9)
    assert row["cost_usd"] is not None


# --- failures ----------------------------------------------------------------------------------


def rpc_status(r: httpx.Response) -> status_pb2.Status:
    if r.headers["content-type"] == "application/x-protobuf":
        return status_pb2.Status.FromString(r.content)
    return json_format.Parse(r.content, status_pb2.Status())


def test_undecodable_bodies_are_400_with_a_status(live: LiveServer, project: str) -> None:
    key = live.key(project)
    with live.client(key) as c:
        proto = c.post("/v1/traces", content=b"\xff\xff\xff\xff garbage", headers=PROTOBUF)
        as_json = c.post("/v1/traces", content=b"{not json", headers=JSON)
        base64_ids = c.post(
            "/v1/traces",
            headers=JSON,
            content=orjson.dumps(
                {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{"traceId": "W47/95gDgQPSabYzgT/GDA=="}]}]}
                    ]
                }
            ),
        )
        bad_gzip = c.post(
            "/v1/traces", content=b"not gzip", headers={**PROTOBUF, "Content-Encoding": "gzip"}
        )
    assert proto.status_code == 400
    assert proto.headers["content-type"] == "application/x-protobuf"
    assert rpc_status(proto).code == code_pb2.INVALID_ARGUMENT
    assert "protobuf" in rpc_status(proto).message
    assert as_json.status_code == 400
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["code"] == code_pb2.INVALID_ARGUMENT
    assert "JSON" in as_json.json()["message"]
    assert base64_ids.status_code == 400 and "traceId" in base64_ids.json()["message"]
    assert bad_gzip.status_code == 400 and rpc_status(bad_gzip).code == code_pb2.INVALID_ARGUMENT


def test_other_content_types_are_415(live: LiveServer, project: str) -> None:
    key = live.key(project)
    with live.client(key) as c:
        for content_type in ("text/plain", "application/grpc", None):
            headers = {"Content-Type": content_type} if content_type else {}
            r = c.post("/v1/traces", content=b"{}", headers=headers)
            assert r.status_code == 415, content_type
            assert "application/x-protobuf" in r.json()["message"]
        # Parameters after the media type are fine.
        ok = c.post(
            "/v1/traces", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        assert ok.status_code == 200


def test_too_large_is_413(live: LiveServer, project: str) -> None:
    key = live.key(project)
    limit = live.settings.max_body_bytes
    with live.client(key) as c:
        raw = c.post("/v1/traces", content=b"\x00" * (limit + 1), headers=PROTOBUF)
        bomb = gzip.compress(b" " * (limit + 1))
        inflated = c.post("/v1/traces", content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert raw.status_code == 413 and rpc_status(raw).message.startswith("body is larger")
    assert inflated.status_code == 413
    assert "decompressed" in inflated.json()["message"]


def test_auth(live: LiveServer, project: str) -> None:
    t0 = datetime(2026, 1, 7, 10, tzinfo=UTC)
    spans = record_spans(RESOURCE, llm_workload(t0))
    body = encode_spans(spans).SerializeToString()
    with live.client(None) as c:
        anonymous = c.post("/v1/traces", content=body, headers=PROTOBUF)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert rpc_status(anonymous).code == code_pb2.UNAUTHENTICATED
    with live.client(live.key(project, "read")) as c:
        read_only = c.post("/v1/traces", content=body, headers=PROTOBUF)
    assert read_only.status_code == 403
    assert rpc_status(read_only).code == code_pb2.PERMISSION_DENIED
    # The exporter gives up on both (no retry) and reports a failure.
    assert exporter(live, None).export(spans) == SpanExportResult.FAILURE
    assert overview(live, live.key(project), t0)["requests"] == 0


def test_project_from_key_and_admin_resource_attribute(live: LiveServer, project: str) -> None:
    t0 = datetime(2026, 1, 7, 11, tzinfo=UTC)
    admin = live.key(None, "ingest,read,admin")
    # An admin key must name the project with the promptpulse.project resource attribute.
    unnamed = record_spans(RESOURCE, llm_workload(t0))
    with live.client(admin) as c:
        r = c.post(
            "/v1/traces", content=encode_spans(unnamed).SerializeToString(), headers=PROTOBUF
        )
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 5
    assert "project: required with an admin key" in answer.partial_success.error_message
    named = record_spans({**RESOURCE, "promptpulse.project": project}, llm_workload(t0))
    assert exporter(live, admin).export(named) == SpanExportResult.SUCCESS
    assert overview(live, live.key(project), t0)["requests"] == 5
    # A project key may not write into another project through the attribute.
    other = f"{project}-other"
    elsewhere = record_spans(
        {**RESOURCE, "promptpulse.project": project}, llm_workload(t0 + timedelta(minutes=5))
    )
    with live.client(live.key(other)) as c:
        r = c.post(
            "/v1/traces", content=encode_spans(elsewhere).SerializeToString(), headers=PROTOBUF
        )
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 5
    assert f"may write only project '{other}'" in answer.partial_success.error_message
    assert overview(live, live.key(project), t0)["requests"] == 5


# --- overload and store failure: their own server ----------------------------------------------


@pytest.fixture
def small_queue(tmp_path: Any) -> Iterator[LiveServer]:
    server, thread, info = start_server(tmp_path, writer_queue_events=1)
    yield info
    stop_server(server, thread)
    info.meta.close()


def test_overloaded_writer_is_429_then_store_down_is_503(small_queue: LiveServer) -> None:
    live = small_queue
    key = live.key("busy")
    t0 = datetime(2026, 1, 8, 10, tzinfo=UTC)
    span_sets = [record_spans(RESOURCE, llm_workload(t0 + timedelta(minutes=i))) for i in range(16)]
    bodies = [encode_spans(spans).SerializeToString() for spans in span_sets]
    seen: list[httpx.Response] = []
    lock = threading.Lock()

    def send(body: bytes) -> None:
        with live.client(key) as c:
            r = c.post("/v1/traces", content=body, headers=PROTOBUF)
        with lock:
            seen.append(r)

    # With room for one batch, concurrent exports overlap a commit; try a few bursts.
    for _ in range(20):
        threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any(r.status_code == 429 for r in seen):
            break
    assert {r.status_code for r in seen} <= {200, 429}
    limited = [r for r in seen if r.status_code == 429]
    assert limited, "no export was ever refused with room for one batch"
    assert limited[0].headers["retry-after"] == "1"
    assert rpc_status(limited[0]).code == code_pb2.RESOURCE_EXHAUSTED
    # Whatever was refused is sent again by the exporter; everything lands exactly once.
    everything = [s for spans in span_sets for s in spans]
    assert exporter(live, key).export(everything) == SpanExportResult.SUCCESS
    o = overview(live, key, t0)
    assert o["requests"] == 16 * 5

    live.ctx.writer.stop()
    with live.client(key) as c:
        down = c.post("/v1/traces", content=bodies[0], headers=PROTOBUF)
    assert down.status_code == 503
    assert int(down.headers["retry-after"]) > 0
    assert rpc_status(down).code == code_pb2.UNAVAILABLE


# --- real instrumentation of the real openai client --------------------------------------------


@pytest.fixture
def fake_openai() -> Iterator[Any]:
    from tests.fakes import start_fake_openai

    fake = start_fake_openai()
    yield fake
    fake.stop()


def test_openai_v2_instrumentation_calls_land_with_model_tokens_latency(
    live: LiveServer, project: str, fake_openai: Any
) -> None:
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    key = live.key(project)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "instrumented"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter(live, key)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    started = datetime.now(UTC)
    try:
        client = openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="test", max_retries=0)
        for _ in range(3):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "SECRET question"}]
            )
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(
                model="fake-429", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    spans = sorted(memory.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert len(spans) == 4
    t0 = started.replace(second=0, microsecond=0) - timedelta(minutes=1)
    rows = stored_calls(
        live,
        project,
        t0,
        [
            "id",
            "model",
            "provider",
            "input_tokens",
            "output_tokens",
            "latency_ms",
            "status",
            "error_type",
            "service",
            "metadata",
            "response_model",
        ],
    )
    assert len(rows) == 4
    for span, row in zip(spans, rows, strict=True):
        # A call with a provider response id is stored under it (one record however many
        # instrumentations describe it); a failed call has none: its span names it.
        response_id = (span.attributes or {}).get("gen_ai.response.id")
        own = f"otel-{span.context.trace_id:032x}-{span.context.span_id:016x}"
        assert row["id"] == (f"otel-resp-{response_id}" if response_id else own)
        assert row["latency_ms"] == pytest.approx((span.end_time - span.start_time) / 1e6)
        assert row["service"] == "instrumented"
    ok = rows[:3]
    assert {
        (r["model"], r["provider"], r["input_tokens"], r["output_tokens"], r["status"]) for r in ok
    } == {("gpt-4o-mini", "openai", 21, 7, "success")}
    assert all(r["response_model"] == "gpt-4o-mini-2024-07-18" for r in ok)
    assert (rows[3]["model"], rows[3]["status"], rows[3]["error_type"]) == (
        "fake-429",
        "error",
        "rate_limit",
    )
    assert all(b"SECRET" not in orjson.dumps(r) for r in rows)


def test_openinference_instrumentation_streaming_ttft_and_cache(
    live: LiveServer, project: str, fake_openai: Any
) -> None:
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor

    key = live.key(project)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "oi"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter(live, key)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    started = datetime.now(UTC)
    try:
        client = openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="test", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    spans = sorted(memory.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert len(spans) == 2
    t0 = started.replace(second=0, microsecond=0) - timedelta(minutes=1)
    rows = stored_calls(
        live,
        project,
        t0,
        [
            "model",
            "provider",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "latency_ms",
            "ttft_ms",
        ],
    )
    assert len(rows) == 2
    for span, row in zip(spans, rows, strict=True):
        assert row["latency_ms"] == pytest.approx((span.end_time - span.start_time) / 1e6)
        assert (row["model"], row["provider"]) == ("gpt-4o-mini", "openai")
        assert (row["input_tokens"], row["output_tokens"]) == (21, 7)
        assert (row["cached_tokens"], row["reasoning_tokens"]) == (16, 3)
    first_token = next(e for e in spans[0].events if e.name == "First Token Stream Event")
    assert rows[0]["ttft_ms"] == pytest.approx((first_token.timestamp - spans[0].start_time) / 1e6)
    assert rows[0]["ttft_ms"] <= rows[0]["latency_ms"]
    assert rows[1]["ttft_ms"] is None


# --- the docs' snippet, run as written ---------------------------------------------------------


def test_docs_snippet_with_env_configuration(live: LiveServer, project: str) -> None:
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "otlp.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", doc, re.S).group(1)  # type: ignore[union-attr]
    key = live.key(project)
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{live.url}/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{key}",
        "OTEL_SERVICE_NAME": "docs-snippet",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    started = datetime.now(UTC)
    done = subprocess.run(
        [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # the exporter logs any failure to stderr
    t0 = started.replace(second=0, microsecond=0) - timedelta(minutes=1)
    rows = stored_calls(
        live,
        project,
        t0,
        [
            "model",
            "provider",
            "prompt_id",
            "prompt_version",
            "input_tokens",
            "output_tokens",
            "service",
            "environment",
        ],
    )
    assert rows == [
        {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "prompt_id": "support-answer",
            "prompt_version": "v3",
            "input_tokens": 1200,
            "output_tokens": 180,
            "service": "docs-snippet",
            "environment": "prod",
        }
    ]
