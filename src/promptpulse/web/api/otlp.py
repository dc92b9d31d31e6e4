"""POST /v1/traces: OTLP/HTTP spans in (protobuf or JSON, gzip), LLM calls stored.

The OTLP/HTTP specification governs every answer here, not RFC 9457: success is an
`ExportTraceServiceResponse` (with `partial_success` when some spans were unusable), failures carry
a `google.rpc.Status`, each in the request's encoding; 429/503 carry `Retry-After`, which
OpenTelemetry exporters honour when they retry.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from promptpulse.errors import (
    BadRequest,
    Overloaded,
    PromptPulseError,
    StoreUnavailable,
    TooLarge,
)
from promptpulse.ingest import otlp
from promptpulse.ingest.otlp_recent import drop_stored
from promptpulse.ingest.pipeline import decode_body, prepare_events
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require
from promptpulse.web.context import AppContext, context, off_loop

router = APIRouter(tags=["ingest"])

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ENCODINGS: dict[str, otlp.Encoding] = {
    PROTOBUF: "protobuf",
    "application/protobuf": "protobuf",
    JSON: "json",
}
_STATUS_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    413: code_pb2.INVALID_ARGUMENT,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}
_STORE_RETRY_AFTER_S = 5
_require_ingest = require(Scope.INGEST)


class UnsupportedMediaType(PromptPulseError):
    status = 415
    title = "Unsupported media type"


def _otlp_content(message: str) -> dict[str, Any]:
    """OTLP answers in the request's encoding, never as a problem."""
    return {
        PROTOBUF: {"schema": {"type": "string", "format": "binary", "description": message}},
        JSON: {"schema": {"type": "object", "description": message}},
    }


@router.post(
    "/v1/traces",
    summary="Ingest OpenTelemetry spans (OTLP/HTTP, protobuf or JSON)",
    description=(
        "Point an OTLP/HTTP exporter here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). LLM spans "
        "(OpenTelemetry GenAI, OpenInference, OpenLLMetry names) become calls; other spans are "
        "skipped. Answers follow the OTLP/HTTP specification; see docs/otlp.md."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": {"type": "object"}},
            },
        }
    },
    responses={
        200: {
            "description": "ExportTraceServiceResponse; partial_success if spans were rejected",
            "content": _otlp_content("ExportTraceServiceResponse"),
        },
        **{
            status: {"description": text, "content": _otlp_content("google.rpc.Status")}
            for status, text in (
                (400, "Undecodable body"),
                (401, "No key, or an unknown or revoked one"),
                (403, "The key lacks the ingest scope"),
                (413, "Body or batch too large"),
                (415, "Content-Type is neither application/x-protobuf nor application/json"),
                (429, "The writer is behind; retry after `Retry-After` seconds"),
                (503, "The store is unavailable; retry after `Retry-After` seconds"),
            )
        },
    },
)
async def post_traces(request: Request) -> Response:
    encoding = _encoding_of(request)
    try:
        key = await _require_ingest(request)
        if encoding is None:
            raise UnsupportedMediaType(
                f"unsupported Content-Type '{_content_type(request)}'; send {PROTOBUF} or {JSON}"
            )
        return await _export(request, context(request), key, encoding)
    except PromptPulseError as exc:
        return _failure(exc, encoding or "json")


async def _export(
    request: Request, ctx: AppContext, key: ApiKey, encoding: otlp.Encoding
) -> Response:
    body = await _read_body(request, ctx.settings.max_body_bytes)
    mapped = await run_in_threadpool(_decode_and_map, body, encoding)
    if len(mapped.records) > ctx.settings.max_batch_events:
        raise TooLarge(
            f"{len(mapped.records)} LLM spans in one export; at most "
            f"{ctx.settings.max_batch_events} (lower the exporter's batch size)"
        )
    # A span of a call stored from an earlier export (its parent or child): a duplicate.
    keep = drop_stored(mapped.records, mapped.spans_of, ctx.recent_spans, key.project)
    records = [mapped.records[i] for i in keep]
    events = orjson.dumps({"events": records})
    prepared = await off_loop(
        ctx,
        len(events),
        prepare_events,
        events,
        key_project=key.project,
        overrides=ctx.prices.lookup,
        now=ctx.clock(),
        max_events=ctx.settings.max_batch_events,
        fallback_costs={
            n: mapped.fallback_costs[i] for n, i in enumerate(keep) if i in mapped.fallback_costs
        },
    )
    result = await ctx.writer.write("events", prepared.table)
    refused = {r.index for r in prepared.rejected}
    for n, i in enumerate(keep):
        if n not in refused:
            project = key.project or records[n].get("project") or ""
            ctx.recent_spans.remember(project, mapped.spans_of[i], records[n]["id"])
    reasons = [r.describe() for r in mapped.rejected]
    for rejected in prepared.rejected:
        fields = "; ".join(f"{e.field}: {e.message}" for e in rejected.errors)
        reasons.append(f"{mapped.sources[keep[rejected.index]].describe()}: {fields}")
    # Spans stored without some of their usage attributes: told, not counted as rejected.
    warnings = [f"stored without: {w.describe()}" for w in mapped.warnings]
    ctx.metrics.ingested.labels("events", "accepted").inc(result.accepted)
    ctx.metrics.ingested.labels("events", "duplicate").inc(
        result.duplicates + len(mapped.records) - len(keep)
    )
    ctx.metrics.ingested.labels("events", "rejected").inc(len(reasons))
    response = ExportTraceServiceResponse()
    if reasons or warnings:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(
                rejected_spans=len(reasons),
                error_message=otlp.summarize([*reasons, *warnings], len(reasons)),
            )
        )
    return _message(200, response, encoding)


def _decode_and_map(body: bytes, encoding: otlp.Encoding) -> otlp.Mapped:
    return otlp.map_request(otlp.decode_request(body, encoding))


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _encoding_of(request: Request) -> otlp.Encoding | None:
    return _ENCODINGS.get(_content_type(request))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return decode_body(b"".join(chunks), request.headers.get("content-encoding"), limit)


def _failure(exc: PromptPulseError, encoding: otlp.Encoding) -> Response:
    """A `google.rpc.Status` with the HTTP status the OTLP spec gives this failure."""
    status = exc.status if exc.status in _STATUS_CODES else 500
    if isinstance(exc, BadRequest | TooLarge) or exc.status == 422:
        status = 413 if isinstance(exc, TooLarge) else 400
    headers: dict[str, str] = {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = str(_STORE_RETRY_AFTER_S)
    elif status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    message = status_pb2.Status(
        code=_STATUS_CODES.get(status, code_pb2.INTERNAL), message=exc.detail
    )
    return _message(status, message, encoding, headers)


def _message(
    status: int, message: Message, encoding: otlp.Encoding, headers: dict[str, str] | None = None
) -> Response:
    if encoding == "protobuf":
        return Response(message.SerializeToString(), status, headers, media_type=PROTOBUF)
    body: dict[str, Any] = json_format.MessageToDict(message)
    return Response(orjson.dumps(body), status, headers, media_type=JSON)
