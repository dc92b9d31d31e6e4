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
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from promptpulse.ingest.otlp_attributes import (
    ENVIRONMENT,
    FIRST_TOKEN_EVENTS,
    INHERITED,
    INVOCATION_PARAMETERS,
    LEGACY_REQUEST_TYPES,
    LLM_OPERATIONS,
    MAX_TOKENS,
    OPENINFERENCE_KINDS,
    PROJECT,
    PROVIDER,
    PROVIDER_URL,
    REPORTED_COST,
    REQUEST_MODEL,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SERVICE,
    STREAM,
    TOKEN_CLASSES,
    TTFT_MS,
    TTFT_SECONDS,
    VERCEL_CALLS,
    VERCEL_OPERATION,
    Attributes,
    attributes,
    counts,
    flag,
    scalar_of,
    seconds,
    text,
)
from promptpulse.ingest.otlp_calls import SpanCall, SpanRef, SpanRejection, one_record_per_call
from promptpulse.ingest.otlp_decode import Encoding as Encoding
from promptpulse.ingest.otlp_decode import decode_request as decode_request
from promptpulse.ingest.otlp_errors import error_fields
from promptpulse.ingest.otlp_errors import error_type_of as error_type_of

# Field limits of the call record (ingest/schema.py): longer strings are cut, not rejected.
_LIMITS = {"model": 200, "provider": 64, "prompt_id": 200, "prompt_version": 64,
           "environment": 200, "feature": 200, "user_id": 200, "session_id": 200,
           "service": 200, "project": 100}  # fmt: skip
_MAX_INVOCATION_PARAMETERS = 64 * 1024


@dataclass
class Mapped:
    """The call records made from a request, with the span each came from."""

    records: list[dict[str, Any]] = field(default_factory=list)
    sources: list[SpanRef] = field(default_factory=list)
    skipped: int = 0  # spans that are not LLM calls (HTTP, DB, agent, tool...)
    rejected: list[SpanRejection] = field(default_factory=list)
    # Stored, but with usage attributes ignored (malformed) or in conflict: to report.
    warnings: list[SpanRejection] = field(default_factory=list)
    merged: int = 0  # LLM spans folded into another span's record: the same provider call
    # A cost the span itself carried, by record index: used when no price is known.
    fallback_costs: dict[int, float] = field(default_factory=dict)

    @property
    def spans(self) -> int:
        return len(self.records) + self.skipped + len(self.rejected) + self.merged


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
    vercel = text(attrs, (VERCEL_OPERATION,))
    if vercel is not None and vercel.startswith("ai."):
        return VERCEL_CALLS.get(vercel)
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


@dataclass(frozen=True)
class _Seen:
    """A span of the request with what it was sent with."""

    span: Span
    attrs: Attributes
    resource: Attributes
    common: dict[str, Any]
    scope: str


def map_request(request: ExportTraceServiceRequest) -> Mapped:
    """Every span of the request, each becoming a record, a skip, a rejection, or a part of the
    record of the one provider call it describes with other spans (otlp_calls)."""
    seen: list[_Seen] = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        common = _resource_fields(resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                seen.append(_Seen(span, attributes(span.attributes), resource, common, scope))
    by_id = {(s.span.trace_id, s.span.span_id): s for s in seen if s.span.span_id}
    mapped = Mapped()
    described: list[SpanCall] = []
    for item in seen:
        op = operation(item.attrs)
        if op is None:
            mapped.skipped += 1
            continue
        ref = SpanRef(item.span.trace_id.hex(), item.span.span_id.hex(), item.span.name)
        try:
            call = map_span(item.span, item.attrs, op, item.common, item.resource)
        except _Unusable as exc:
            mapped.rejected.append(SpanRejection(ref, str(exc)))
            continue
        _inherit(call.record, _ancestors(item, by_id), item.resource)
        mapped.warnings.extend(SpanRejection(ref, w) for w in call.warnings)
        place = (item.scope, item.span.start_time_unix_nano, item.span.end_time_unix_nano)
        described.append(call.with_place(ref, _llm_ancestors(item, by_id), *place))
    for merged in one_record_per_call(described):
        if merged.reported_cost is not None:
            mapped.fallback_costs[len(mapped.records)] = merged.reported_cost
        mapped.records.append(merged.record)
        mapped.sources.append(merged.ref)
        mapped.merged += merged.folded
    return mapped


_MAX_DEPTH = 64  # a parent chain longer than this is malformed (or a cycle)


def _ancestors(item: _Seen, by_id: Mapping[tuple[bytes, bytes], _Seen]) -> list[_Seen]:
    """The span's ancestors present in this request, nearest first."""
    found: list[_Seen] = []
    parent = item.span.parent_span_id
    while parent and len(found) < _MAX_DEPTH:
        above = by_id.get((item.span.trace_id, parent))
        if above is None or above is item or any(a is above for a in found):
            break
        found.append(above)
        parent = above.span.parent_span_id
    return found


def _llm_ancestors(item: _Seen, by_id: Mapping[tuple[bytes, bytes], _Seen]) -> list[str]:
    return [a.span.span_id.hex() for a in _ancestors(item, by_id) if operation(a.attrs)]


def _inherit(record: dict[str, Any], ancestors: list[_Seen], resource: Attributes) -> None:
    """Prompt, feature, user and session: from the span, else its nearest ancestor that has
    them (auto-instrumented LLM spans cannot carry them; the app's own span around them can),
    else the resource."""
    for key, names in INHERITED.items():
        if key in record:
            continue
        for holder in [*(a.attrs for a in ancestors), resource]:
            value = text(holder, names, _LIMITS[key])
            if value is not None:
                record[key] = value
                break


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


def map_span(
    span: Span,
    attrs: Attributes,
    op: str,
    common: Mapping[str, Any],
    resource: Attributes,
) -> SpanCall:
    """One LLM span -> what it says of one call (a `/v1/events` item). Raises _Unusable."""
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
    for key, names in INHERITED.items():
        _put(record, key, text(attrs, names, _LIMITS[key]))
    if "environment" not in record:
        _put(record, "environment", text(attrs, ENVIRONMENT, _LIMITS["environment"]))
    warnings, reported = _tokens(record, attrs)
    _put(record, "ttft_ms", _ttft_ms(span, attrs))
    record.update(error_fields(span, attrs))
    record["metadata"] = _metadata(span, attrs, op)
    return SpanCall(
        record=record,
        warnings=warnings,
        response_id=text(attrs, RESPONSE_ID, 512),
        reported_cost=_reported_cost(attrs),
        reported_tokens=reported,
    )


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


def _tokens(record: dict[str, Any], attrs: Attributes) -> tuple[list[str], frozenset[str]]:
    """Token counts in our convention (input includes cache reads and writes, output includes
    reasoning); returns what was wrong with the usage attributes, to report, and the token
    classes the span reported.

    Per token class the first valid name wins (newest convention first); a value that is not a
    whole number ≥ 0 is ignored, and names that disagree are reported. Conventions say input
    includes cache reads and writes; when the cache counts exceed the input, the instrumentation
    reported uncached input only, so the cache counts are added. The same for reasoning."""
    warnings: list[str] = []
    got: dict[str, int] = {}
    for key, names in TOKEN_CLASSES.items():
        valid, malformed = counts(attrs, names)
        warnings.extend(f"{name} is not a whole number >= 0; ignored" for name in malformed)
        if valid:
            got[key] = valid[0][1]
            others = [f"{n}={v}" for n, v in valid[1:] if v != valid[0][1]]
            if others:
                warnings.append(
                    f"{valid[0][0]}={valid[0][1]} disagrees with {', '.join(others)}; "
                    f"kept {valid[0][0]}"
                )
    cache_read, cache_write = got.get("cached_tokens", 0), got.get("cache_write_tokens", 0)
    input_tokens, output_tokens = got.get("input_tokens", 0), got.get("output_tokens", 0)
    reasoning = got.get("reasoning_tokens", 0)
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if reasoning > output_tokens:
        output_tokens += reasoning
    record["input_tokens"] = min(input_tokens, MAX_TOKENS)
    record["output_tokens"] = min(output_tokens, MAX_TOKENS)
    record["cached_tokens"] = cache_read
    record["cache_write_tokens"] = cache_write
    record["reasoning_tokens"] = reasoning
    return warnings, frozenset(got)


def _ttft_ms(span: Span, attrs: Attributes) -> float | None:
    first = seconds(attrs, TTFT_SECONDS)
    if first is not None:
        return first * 1000
    first_ms = seconds(attrs, TTFT_MS)
    if first_ms is not None:
        return first_ms
    start = span.start_time_unix_nano
    times = [e.time_unix_nano for e in span.events
             if e.name in FIRST_TOKEN_EVENTS and e.time_unix_nano >= start]  # fmt: skip
    return (min(times) - start) / 1e6 if times else None


def _reported_cost(attrs: Attributes) -> float | None:
    """A cost the instrumentation computed (LiteLLM): used only when no price is known."""
    cost = seconds(attrs, REPORTED_COST)  # a finite number >= 0, whatever its unit
    return cost if cost is not None and cost < 1e9 else None


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
    head = f"{total} span{'s' if total != 1 else ''} rejected: " if total else ""
    message = head + "; ".join(reasons)
    if len(message) <= limit:
        return message
    return message[: limit - 3] + "..."
