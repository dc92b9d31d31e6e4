"""OTLP/HTTP bodies (protobuf or OTLP JSON) -> an `ExportTraceServiceRequest`. Pure."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Literal

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from promptpulse.errors import BadRequest

Encoding = Literal["protobuf", "json"]


def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Parse an OTLP/HTTP body. Undecodable input raises BadRequest (the caller answers 400)."""
    request = ExportTraceServiceRequest()
    if encoding == "protobuf":
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise BadRequest(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from exc
        return request
    try:
        document = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequest("body must be a JSON object (an ExportTraceServiceRequest)")
    try:
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise BadRequest(f"body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from exc
    return request


_ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON carries ids as hex; protobuf's JSON parser reads bytes as base64. Convert them in
    place so `ParseDict` yields the real ids (it would silently decode hex as base64 otherwise)."""
    for resource_spans in _dicts(document.get("resourceSpans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            for span in _dicts(scope_spans.get("spans")):
                _convert_ids(span)
                for link in _dicts(span.get("links")):
                    _convert_ids(link)


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _convert_ids(holder: dict[str, Any]) -> None:
    for key, size in _ID_LENGTHS.items():
        value = holder.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a hex string")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"{key} {value[:40]!r} is not hex") from None
        if len(raw) != size:
            raise ValueError(f"{key} must be {size * 2} hex digits")
        holder[key] = base64.b64encode(raw).decode("ascii")
