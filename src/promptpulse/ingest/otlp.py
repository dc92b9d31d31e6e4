"""OTLP traces -> call records. Pure: no I/O, no clock, no server.

Which spans are LLM calls, and which attribute holds which figure, follows every naming the
ecosystem uses, newest first (docs/otlp.md has the table and the convention versions):
OpenTelemetry GenAI semantic conventions (v1.41 and the older names back to v1.26), OpenInference
(`llm.*`, `openinference.span.kind`) and OpenLLMetry/Traceloop's legacy names. A span is an LLM
call by its attributes, never by its name or kind. Message contents are never read or copied.

`decode_request` turns a protobuf or OTLP-JSON body into an `ExportTraceServiceRequest`;
`map_request` turns that into call-record dicts (the `/v1/events` item shape) plus what it skipped
(non-LLM spans) and rejected (LLM spans it could not use, each with a reason).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from promptpulse.ingest.otlp_attributes import (
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    ENVIRONMENT,
    FEATURE,
    FIRST_TOKEN_EVENTS,
    HTTP_STATUS,
    INPUT_TOKENS,
    INVOCATION_PARAMETERS,
    LEGACY_REQUEST_TYPES,
    LLM_OPERATIONS,
    MAX_TOKENS,
    OPENINFERENCE_KINDS,
    OUTPUT_TOKENS,
    PROJECT,
    PROMPT_ID,
    PROMPT_VERSION,
    PROVIDER,
    PROVIDER_URL,
    REASONING_TOKENS,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SERVICE,
    SESSION,
    STREAM,
    TTFT_SECONDS,
    USER,
    Attributes,
    attributes,
    count,
    flag,
    scalar_of,
    seconds,
    text,
)
from promptpulse.ingest.otlp_decode import Encoding as Encoding
from promptpulse.ingest.otlp_decode import decode_request as decode_request

# Field limits of the call record (ingest/schema.py): longer strings are cut, not rejected.
_LIMITS = {"model": 200, "provider": 64, "prompt_id": 200, "prompt_version": 64,
           "environment": 200, "feature": 200, "user_id": 200, "session_id": 200,
           "service": 200, "project": 100}  # fmt: skip
_MAX_ERROR_MESSAGE = 2048
_MAX_INVOCATION_PARAMETERS = 64 * 1024


@dataclass(frozen=True)
class SpanRef:
    """Enough of a span to name it in an error message."""

    trace_id: str
    span_id: str
    name: str

    def describe(self) -> str:
        name = self.name if len(self.name) <= 80 else self.name[:77] + "..."
        return f"span {self.span_id or '?'} ({name!r})"


@dataclass(frozen=True)
class SpanRejection:
    span: SpanRef
    reason: str

    def describe(self) -> str:
        return f"{self.span.describe()}: {self.reason}"


@dataclass
class Mapped:
    """The call records made from a request, with the span each came from."""

    records: list[dict[str, Any]] = field(default_factory=list)
    sources: list[SpanRef] = field(default_factory=list)
    skipped: int = 0  # spans that are not LLM calls (HTTP, DB, agent, tool...)
    rejected: list[SpanRejection] = field(default_factory=list)

    @property
    def spans(self) -> int:
        return len(self.records) + self.skipped + len(self.rejected)


class _Unusable(Exception):
    """An LLM span that cannot become a call record; the message says why."""


# --- what kind of span --------------------------------------------------------------


def operation(attrs: Attributes) -> str | None:
    """The LLM operation of a span (chat, text_completion, generate_content, embeddings), or None
    when it is not an LLM call (an HTTP request, a database query, an agent or a tool step)."""
    op = text(attrs, ("gen_ai.operation.name",))
    if op is not None:
        return op if op in LLM_OPERATIONS else None
    kind = text(attrs, ("openinference.span.kind",))
    if kind is not None:
        return OPENINFERENCE_KINDS.get(kind.upper())
    legacy = text(attrs, ("llm.request.type",))
    if legacy is not None:
        return LEGACY_REQUEST_TYPES.get(legacy.lower())
    # Conventions before v1.27 had no operation name: a gen_ai.system and a requested model
    # mark a model call, unless a framework says the span is one of its own steps.
    if "traceloop.span.kind" in attrs:
        return None
    if text(attrs, ("gen_ai.system",)) and text(attrs, ("gen_ai.request.model",)):
        return "chat"
    return None


# --- the mapping --------------------------------------------------------------------


def map_request(request: ExportTraceServiceRequest) -> Mapped:
    """Every span of the request, each becoming a record, a skip or a rejection."""
    mapped = Mapped()
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        common = _resource_fields(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                _map_into(mapped, span, common, resource)
    return mapped


def _resource_fields(resource: Attributes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in (
        ("project", text(resource, (PROJECT,), _LIMITS["project"])),
        ("service", text(resource, (SERVICE,), _LIMITS["service"])),
        ("environment", text(resource, ENVIRONMENT, _LIMITS["environment"])),
    ):
        if value is not None:
            fields[name] = value
    return fields


def _map_into(mapped: Mapped, span: Span, common: dict[str, Any], resource: Attributes) -> None:
    attrs = attributes(span.attributes)
    op = operation(attrs)
    if op is None:
        mapped.skipped += 1
        return
    ref = SpanRef(span.trace_id.hex(), span.span_id.hex(), span.name)
    try:
        record = map_span(span, attrs, op, common, resource)
    except _Unusable as exc:
        mapped.rejected.append(SpanRejection(ref, str(exc)))
        return
    mapped.records.append(record)
    mapped.sources.append(ref)


def map_span(
    span: Span,
    attrs: Attributes,
    op: str,
    common: Mapping[str, Any],
    resource: Attributes,
) -> dict[str, Any]:
    """One LLM span -> one call record (the `/v1/events` item shape). Raises _Unusable."""
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start == 0:
        raise _Unusable("has no start time")
    if end == 0 or end < start:
        raise _Unusable("has no end time, or ends before it starts")
    model = _model(attrs)
    if model is None:
        raise _Unusable("names no model (gen_ai.request.model, llm.model_name, ...)")
    record: dict[str, Any] = {
        "id": span_record_id(span),
        "timestamp": _rfc3339(start),
        "model": model,
        "latency_ms": (end - start) / 1e6,
        **common,
    }
    _put(record, "response_model", text(attrs, RESPONSE_MODEL, _LIMITS["model"]))
    _put(record, "provider", _provider(attrs))
    for key, names in (("prompt_id", PROMPT_ID), ("prompt_version", PROMPT_VERSION),
                       ("feature", FEATURE)):  # fmt: skip
        _put(record, key, text(attrs, names, _LIMITS[key]) or text(resource, names, _LIMITS[key]))
    if "environment" not in record:
        _put(record, "environment", text(attrs, ENVIRONMENT, _LIMITS["environment"]))
    _put(record, "session_id", text(attrs, SESSION, _LIMITS["session_id"]))
    _put(record, "user_id", text(attrs, USER, _LIMITS["user_id"]))
    _tokens(record, attrs)
    _put(record, "ttft_ms", _ttft_ms(span, attrs))
    _error(record, span, attrs)
    record["metadata"] = _metadata(span, attrs, op)
    return record


def span_record_id(span: Span) -> str:
    """Deterministic, so a re-sent export is stored once: `otel-<trace id>-<span id>`."""
    if span.trace_id and span.span_id:
        return f"otel-{span.trace_id.hex()}-{span.span_id.hex()}"
    # Ids are mandatory in OTLP; without them the span's own bytes still name it stably.
    digest = hashlib.sha256(span.SerializeToString(deterministic=True)).hexdigest()
    return f"otel-sha256-{digest[:48]}"


def _put(record: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        record[key] = value


def _rfc3339(unix_nano: int) -> str:
    secs, nanos = divmod(unix_nano, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(secs, UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        raise _Unusable("has a start time outside the calendar") from None
    return moment.isoformat()


def _model(attrs: Attributes) -> str | None:
    model = text(attrs, REQUEST_MODEL, _LIMITS["model"])
    if model is None:
        model = _invocation_model(attrs)
    return model or text(attrs, RESPONSE_MODEL, _LIMITS["model"])


def _invocation_model(attrs: Attributes) -> str | None:
    """OpenInference puts the requested model inside a JSON string of the call's parameters."""
    value = attrs.get(INVOCATION_PARAMETERS)
    raw = scalar_of(value) if value is not None else None
    if not isinstance(raw, str) or len(raw) > _MAX_INVOCATION_PARAMETERS or '"model"' not in raw:
        return None
    try:
        params = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    model = params.get("model") if isinstance(params, dict) else None
    if isinstance(model, str) and model.strip():
        return model.strip()[: _LIMITS["model"]]
    return None


def _provider(attrs: Attributes) -> str | None:
    named = text(attrs, PROVIDER, _LIMITS["provider"])
    if named is not None:
        return named.lower()
    for name in PROVIDER_URL:
        url = text(attrs, (name,), 2048)
        if url is not None:
            found = provider_from_url(url)
            if found is not None:
                return found
    return None


def provider_from_url(url: str) -> str | None:
    """A provider id from an API host or base URL (`api.openai.com` -> `openai`), using the
    URL patterns of the bundled genai-prices data; None for hosts it does not know."""
    if "://" not in url:
        url = f"https://{url}"
    url = url.rstrip("/") + "/"
    for provider_id, pattern in _url_patterns():
        if pattern.match(url):
            return provider_id
    return None


@lru_cache(maxsize=1)
def _url_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    from genai_prices import data

    patterns = []
    for provider in data.providers:
        if provider.api_pattern:
            try:
                patterns.append((provider.id, re.compile(provider.api_pattern)))
            except re.error:
                continue
    return tuple(patterns)


def _tokens(record: dict[str, Any], attrs: Attributes) -> None:
    """Token counts in our convention (input includes cache reads and writes, output includes
    reasoning).

    Conventions say input includes cache reads and writes; when the cache counts exceed the
    input, the instrumentation reported uncached input only, so the cache counts are added.
    The same for reasoning against output."""
    input_tokens = count(attrs, INPUT_TOKENS) or 0
    output_tokens = count(attrs, OUTPUT_TOKENS) or 0
    cache_read = count(attrs, CACHE_READ_TOKENS) or 0
    cache_write = count(attrs, CACHE_WRITE_TOKENS) or 0
    reasoning = count(attrs, REASONING_TOKENS) or 0
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if reasoning > output_tokens:
        output_tokens += reasoning
    record["input_tokens"] = min(input_tokens, MAX_TOKENS)
    record["output_tokens"] = min(output_tokens, MAX_TOKENS)
    record["cached_tokens"] = cache_read
    record["cache_write_tokens"] = cache_write
    record["reasoning_tokens"] = reasoning


def _ttft_ms(span: Span, attrs: Attributes) -> float | None:
    first = seconds(attrs, TTFT_SECONDS)
    if first is not None:
        return first * 1000
    for event in span.events:
        if event.name in FIRST_TOKEN_EVENTS and event.time_unix_nano >= span.start_time_unix_nano:
            return (event.time_unix_nano - span.start_time_unix_nano) / 1e6
    return None


# --- errors -------------------------------------------------------------------------

_ERROR_WORDS: tuple[tuple[str, str], ...] = (
    ("timeout", "timeout"), ("timedout", "timeout"), ("deadline", "timeout"),
    ("ratelimit", "rate_limit"), ("toomanyrequests", "rate_limit"), ("quota", "rate_limit"),
    ("contentfilter", "content_filter"), ("contentpolicy", "content_filter"),
    ("safety", "content_filter"),
    ("connection", "network"), ("connect", "network"), ("network", "network"),
    ("dns", "network"), ("ssl", "network"),
    ("badrequest", "validation"), ("validation", "validation"), ("invalid", "validation"),
    ("unprocessable", "validation"),
    ("internalserver", "llm_error"), ("serviceunavailable", "llm_error"),
    ("overloaded", "llm_error"), ("apierror", "llm_error"), ("apistatus", "llm_error"),
)  # fmt: skip


def error_type_of(name: str | None, http_status: int | None) -> str:
    """Our error type from an exception/error.type name and an HTTP status, where it is clear."""
    squashed = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    for word, kind in _ERROR_WORDS:
        if word in squashed:
            return kind
    status = http_status if http_status is not None else _status_from_name(name)
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    if status in (400, 422):
        return "validation"
    if status is not None and 500 <= status <= 599:
        return "llm_error"
    return "other"


def _status_from_name(name: str | None) -> int | None:
    # HTTP instrumentations put the status code itself in error.type ("429").
    if name and name.isdigit() and len(name) == 3:
        return int(name)
    return None


def _error(record: dict[str, Any], span: Span, attrs: Attributes) -> None:
    error_name = text(attrs, ("error.type",), 200)
    exception_type, exception_message = _exception_event(span)
    failed = span.status.code == Status.STATUS_CODE_ERROR or (
        error_name is not None and span.status.code != Status.STATUS_CODE_OK
    )
    http_status = count(attrs, HTTP_STATUS)
    if http_status is not None and not 100 <= http_status <= 599:
        http_status = None
    if http_status is None:
        http_status = _status_from_name(error_name)
    if http_status is not None and failed:
        record["http_status"] = http_status
    if not failed:
        return
    record["status"] = "error"
    name = exception_type if error_name in (None, "_OTHER") else error_name
    record["error_type"] = error_type_of(name or exception_type, http_status)
    message = span.status.message or exception_message or name
    if message:
        record["error_message"] = message[:_MAX_ERROR_MESSAGE]


def _exception_event(span: Span) -> tuple[str | None, str | None]:
    for event in span.events:
        if event.name == "exception":
            event_attrs = attributes(event.attributes)
            return (
                text(event_attrs, ("exception.type",), 200),
                text(event_attrs, ("exception.message",), _MAX_ERROR_MESSAGE),
            )
    return None, None


def _metadata(span: Span, attrs: Attributes, op: str) -> dict[str, Any]:
    """Small, filterable facts (`metadata.<key>` filters); never message contents."""
    meta: dict[str, Any] = {"operation": op}
    if span.trace_id:
        meta["trace_id"] = span.trace_id.hex()
    if span.span_id:
        meta["span_id"] = span.span_id.hex()
    stream = flag(attrs, STREAM)
    if stream is not None:
        meta["stream"] = stream
    return meta


# --- summaries for the response -----------------------------------------------------


def summarize(rejections: Iterable[str], total: int, limit: int = 2000) -> str:
    """`partial_success.error_message`: how many spans were rejected and why, cut to `limit`."""
    reasons = list(rejections)
    head = f"{total} span{'s' if total != 1 else ''} rejected: "
    message = head + "; ".join(reasons)
    if len(message) <= limit:
        return message
    return message[: limit - 3] + "..."
