"""The OpenAPI document: query parameters from their one declaration (`query.parse.Param`), and
every error answer as the problem it is (`application/problem+json`, schema `Problem`).

A route whose query string is parsed by hand (repeated filters, `metadata.<key>`: FastAPI's own
`Query` cannot express them) declares `openapi_extra=query_params(PARAMS)` with the same tuple its
parser reads, and its signature keeps only the request and the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from promptpulse.query.parse import Param, ParamKind
from promptpulse.web.problems import PROBLEM

_SCHEMAS: dict[ParamKind, dict[str, Any]] = {
    ParamKind.TIME: {"type": "string", "format": "date-time"},
    ParamKind.INT: {"type": "integer"},
    ParamKind.NUMBER: {"type": "number"},
    ParamKind.CHOICE: {"type": "string"},
    ParamKind.METRICS: {"type": "string"},
    ParamKind.DIMENSION: {"type": "string"},
    ParamKind.TEXT: {"type": "string"},
    ParamKind.LIST: {"type": "array", "items": {"type": "string"}},
    ParamKind.FILTER: {"type": "array", "items": {"type": "string"}},
}


def query_params(params: Iterable[Param]) -> dict[str, Any]:
    """`openapi_extra` documenting these query parameters."""
    return {"parameters": [openapi_param(p) for p in params]}


def openapi_param(p: Param) -> dict[str, Any]:
    schema = dict(_SCHEMAS[p.kind])
    if p.choices:
        schema["enum"] = list(p.choices)
    bounds = ("exclusiveMinimum", "exclusiveMaximum") if p.kind is ParamKind.NUMBER else None
    if p.lo is not None:
        schema[bounds[0] if bounds else "minimum"] = p.lo
    if p.hi is not None:
        schema[bounds[1] if bounds else "maximum"] = p.hi
    default = ",".join(p.default) if p.kind is ParamKind.METRICS else p.default
    if default is not None:
        schema["default"] = default
    out: dict[str, Any] = {
        "name": p.name,
        "in": "query",
        "required": p.required,
        "description": p.description,
        "schema": schema,
    }
    if schema["type"] == "array":
        out |= {"style": "form", "explode": True}
    if p.example is not None:
        out["example"] = p.example
    return out


# Schemas of bodies a route reads itself (ingest streams and decodes its own), for components.
_BODY_SCHEMAS: dict[str, dict[str, Any]] = {}


def json_body(model: type[BaseModel], example: Any = None) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body the route reads itself, as `model`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    _BODY_SCHEMAS.update(schema.pop("$defs", {}))
    _BODY_SCHEMAS[model.__name__] = schema
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem; `errors` names each bad field",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def install(app: FastAPI) -> None:
    """Serve the document with every 4xx/5xx answer as `application/problem+json`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = as_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


SHARED = {
    "429": "Too many failed authentications from this address (or, when ingesting, the writer "
    "is behind): retry after `Retry-After` seconds",
    "431": "The request's headers are larger than PROMPTPULSE_MAX_HEADER_BYTES",
    "400": "The body is not JSON",
    "503": "The store cannot answer in time (the request's deadline passed) or cannot write",
}


def _shared_answers(path: str, method: str, operation: dict[str, Any]) -> None:
    """Answers that middleware and the auth check give on any route, listed on each route."""
    responses = operation.setdefault("responses", {})
    wanted = ["431"]
    if "401" in responses:
        wanted.append("429")
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        wanted.append("400")
    if method == "get" and path.startswith("/v1/"):
        wanted.append("503")
    for status in wanted:
        responses.setdefault(status, {"description": SHARED[status]})


def as_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Every error answer's content becomes a problem: its own schema when the route gave one
    (e.g. ingest's 422 with `rejected`), else `Problem`; FastAPI's validation schemas go."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _shared_answers(path, method, operation)
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if status[:1] not in "45" or set(content) - {"application/json"}:
                    continue  # a success, or an error in a format of its own (OTLP's)
                given = content.get("application/json", {}).get("schema")
                if given is None or given.get("$ref") == _FASTAPI_422:
                    given = _PROBLEM_REF
                answer["content"] = {PROBLEM: {"schema": given}}
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for name, body in _BODY_SCHEMAS.items():
        schemas.setdefault(name, body)
    return schema
