"""Every error leaves as an RFC 9457 problem (`application/problem+json`), mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from promptpulse.errors import FieldError, MetadataUnavailable, PromptPulseError
from promptpulse.meta import UNREACHABLE

log = logging.getLogger("promptpulse.web")
PROBLEM = "application/problem+json"

# What each error status means, for the OpenAPI document (web/openapi.py makes each a Problem).
ANSWERS: dict[int, str] = {
    400: "The body is not JSON, or not valid gzip/deflate",
    401: "No key, or an unknown or revoked one",
    403: "The key lacks the scope, or names another project",
    404: "No such object (or not the key's project)",
    409: "It contradicts what is stored (an overlapping price validity names the entry)",
    413: "Too many items or bytes in one request",
    415: "An unsupported Content-Type",
    422: "A parameter or the body is wrong: `errors` names each field",
    429: "The writer is behind: retry after `Retry-After` seconds; nothing was stored",
    503: "The store, the metadata database or a parse worker cannot answer: retry after "
    "`Retry-After`",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for routes that may answer these errors."""
    return {status: {"description": ANSWERS[status]} for status in statuses}


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(PromptPulseError)
    async def domain_error(_: Request, exc: PromptPulseError) -> Response:
        retry_after = getattr(exc, "retry_after_s", None)  # Overloaded, WriteFailed
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return problem(exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        broken = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if broken:  # not JSON at all: a 400, as for the ingest routes (docs/api.md)
            reason = str(broken[0].get("ctx", {}).get("error", "invalid JSON"))
            return problem(400, "Bad request", f"body is not valid JSON: {reason}")
        errors = [
            FieldError(
                ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                _not_json_hint(request, e) or e["msg"].removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem(422, "Invalid request", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=exc.headers)

    for unreachable in UNREACHABLE:  # the metadata database is down: a change waits

        @app.exception_handler(unreachable)
        async def metadata_down(_: Request, exc: Exception) -> Response:
            log.warning("metadata database unreachable: %s", type(exc).__name__)
            down = MetadataUnavailable("the metadata database cannot be reached; retry shortly")
            return problem(down.status, down.title, down.detail, [],
                           {"Retry-After": str(down.retry_after_s)})  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", "an unexpected error happened; see the server log")


def _not_json_hint(request: Request, error: Any) -> str | None:
    """FastAPI reads a body sent without a JSON Content-Type (curl -d sends a form's) as a
    string, and pydantic says only that it is not an object: name the header instead."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if (
        tuple(error.get("loc", ())) != ("body",)
        or kind == "application/json"
        or kind.endswith("+json")
    ):
        return None
    return f"send a JSON object with Content-Type: application/json (got '{kind or 'none'}')"
