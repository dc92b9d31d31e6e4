"""Whether an LLM span failed, and how: our error type and the provider's HTTP status. Pure.

The status is read wherever a span carries it: `http.response.status_code`, an `error.type` that is
the code itself ("429"), or the text of an exception type, message or span status message in the
forms the SDKs print: `Error code: 429 - {...}` (openai, anthropic), `status_code: 400` (Pydantic
AI's ModelHTTPError), `"statusCode": 500` (the Vercel AI SDK's AI_APICallError), `HTTP 503`.
Specific exception names (timeout, rate limit, content filter, connection) win over the status,
which wins over generic names (APIError, BadRequest).
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from promptpulse.ingest.otlp_attributes import HTTP_STATUS, Attributes, attributes, count, text

MAX_ERROR_MESSAGE = 2048

_SPECIFIC_WORDS: tuple[tuple[str, str], ...] = (
    ("timeout", "timeout"), ("timedout", "timeout"), ("deadline", "timeout"),
    ("ratelimit", "rate_limit"), ("toomanyrequests", "rate_limit"), ("quota", "rate_limit"),
    ("contentfilter", "content_filter"), ("contentpolicy", "content_filter"),
    ("safety", "content_filter"),
    ("connection", "network"), ("connect", "network"), ("network", "network"),
    ("dns", "network"), ("ssl", "network"),
)  # fmt: skip
_GENERIC_WORDS: tuple[tuple[str, str], ...] = (
    ("badrequest", "validation"), ("validation", "validation"), ("invalid", "validation"),
    ("unprocessable", "validation"),
    ("internalserver", "llm_error"), ("serviceunavailable", "llm_error"),
    ("overloaded", "llm_error"), ("apierror", "llm_error"), ("apistatus", "llm_error"),
    ("apicall", "llm_error"), ("modelhttp", "llm_error"),
)  # fmt: skip
# "Error code: 429", "status_code: 400", "statusCode":500, "status=503", "HTTP 502", "HTTP/1.1 500"
_STATUS_IN_TEXT = re.compile(
    r"(?:error[ _]?code|status[ _]?code|\bstatus|\bhttp(?:/\d(?:\.\d)?)?)[\"']?\s*[:=]?\s*"
    r"[\"']?([1-5]\d\d)\b",
    re.IGNORECASE,
)


def _squash(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def error_type_of(name: str | None, http_status: int | None) -> str:
    """Our error type from an exception/error.type name and an HTTP status, where it is clear."""
    squashed = _squash(name)
    for word, kind in _SPECIFIC_WORDS:
        if word in squashed:
            return kind
    status = http_status if http_status is not None else status_from_name(name)
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    if status in (400, 404, 409, 413, 422):
        return "validation"
    if status is not None and (500 <= status <= 599 or status in (401, 403)):
        return "llm_error"
    for word, kind in _GENERIC_WORDS:
        if word in squashed:
            return kind
    return "other"


def status_from_name(name: str | None) -> int | None:
    # HTTP instrumentations put the status code itself in error.type ("429").
    if name and name.isdigit() and len(name) == 3:
        return int(name)
    return None


def status_in_text(*texts: str | None) -> int | None:
    """The first HTTP status an SDK printed into an error text, in any of the known forms."""
    for value in texts:
        if value:
            found = _STATUS_IN_TEXT.search(value[:MAX_ERROR_MESSAGE])
            if found:
                return int(found.group(1))
    return None


def error_fields(span: Span, attrs: Attributes) -> dict[str, Any]:
    """status, error_type, http_status and error_message of a failed span; {} for a success."""
    error_name = text(attrs, ("error.type",), 200)
    exception_type, exception_message = _exception_event(span)
    failed = span.status.code == Status.STATUS_CODE_ERROR or (
        error_name is not None and span.status.code != Status.STATUS_CODE_OK
    )
    if not failed:
        return {}
    http_status = count(attrs, HTTP_STATUS)
    if http_status is not None and not 100 <= http_status <= 599:
        http_status = None
    if http_status is None:
        http_status = status_from_name(error_name) or status_in_text(
            exception_message, span.status.message, exception_type
        )
    fields: dict[str, Any] = {"status": "error"}
    if http_status is not None:
        fields["http_status"] = http_status
    name = exception_type if error_name in (None, "_OTHER") else error_name
    fields["error_type"] = error_type_of(name or exception_type, http_status)
    message = span.status.message or exception_message or name
    if message:
        fields["error_message"] = message[:MAX_ERROR_MESSAGE]
    return fields


def _exception_event(span: Span) -> tuple[str | None, str | None]:
    for event in span.events:
        if event.name == "exception":
            event_attrs = attributes(event.attributes)
            return (
                text(event_attrs, ("exception.type",), 200),
                text(event_attrs, ("exception.message",), MAX_ERROR_MESSAGE),
            )
    return None, None
