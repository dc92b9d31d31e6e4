"""The common path of `POST /v1/events`: a batch where every call is valid, read by msgspec.

pydantic (`schema.CallEvent`) stays the definition of a valid call and the author of every error
message. This module only answers "is every call of this body valid, and what are they?" about
ten times faster; it says `None` whenever it is not sure, and the caller then runs pydantic
over the same body. So it may only ever accept what pydantic accepts, with the same values:
anything it is not sure of (a time with more than 6 fractional digits; metadata that orjson
cannot store; a number out of range) is not accepted here. `tests/ingest/test_fast_schema.py`
holds the two readers to the same answers on random bodies.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from promptpulse.ingest.schema import MAX_ERROR_MESSAGE, MAX_METADATA_BYTES, ErrorType
from promptpulse.model import TIME_FLOOR

_Str64 = Annotated[str, msgspec.Meta(max_length=64)]
_Str100 = Annotated[str, msgspec.Meta(max_length=100)]
_Str128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Str200 = Annotated[str, msgspec.Meta(max_length=200)]
# msgspec's int and float are strict like pydantic's Strict(): no bools, no text; a float field
# takes an int, an int field refuses 1.0; a number out of the float range is refused.
_NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
_NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class FastCallEvent(msgspec.Struct):
    """The fields and rules of `schema.CallEvent`, one for one (same names, so the rest of the
    pipeline reads either). Unknown fields are ignored, as there."""

    # msgspec's RFC 3339 reader; with tz=True a time without an offset is refused, as pydantic's
    # AwareDatetime refuses it.
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    latency_ms: _NonNegFloat
    id: _Str128 | None = None
    project: _Str100 | None = None
    prompt_id: _Str200 | None = None
    prompt_version: _Str64 | None = None
    response_model: _Str200 | None = None
    provider: _Str64 | None = None
    environment: _Str200 | None = None
    feature: _Str200 | None = None
    user_id: _Str200 | None = None
    session_id: _Str200 | None = None
    service: _Str200 | None = None
    tags: Annotated[list[_Str200], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list
    )
    metadata: dict[str, Any] | None = None
    status: Literal["success", "error"] = "success"
    error_type: ErrorType | None = None
    error_message: str | None = None
    http_status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None
    ttft_ms: _NonNegFloat | None = None
    queue_ms: _NonNegFloat | None = None
    input_tokens: _NonNegInt = 0
    output_tokens: _NonNegInt = 0
    cached_tokens: _NonNegInt = 0
    reasoning_tokens: _NonNegInt = 0
    cache_write_tokens: _NonNegInt = 0
    cost_usd: _NonNegFloat | None = None
    cache_hit: bool = False
    retries: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0


class _FastBatch(msgspec.Struct):
    events: list[FastCallEvent]


_DECODER = msgspec.json.Decoder(_FastBatch)
# A 7th fractional digit of a second: pydantic truncates it, msgspec rounds it. Such bodies
# (a time `..:ss.fffffff` anywhere in them) are left to pydantic. The ':' first makes the
# scan ~5x faster than starting the pattern with a digit; the look-behind then wants the
# digit before it, so a number like `"x":12.3456789` is not a time.
_LONG_FRACTION = re.compile(rb":(?<=\d:)\d\d\.\d{7}")


def fast_events(body: bytes) -> list[FastCallEvent] | None:
    """Every call of the body, when all of them are valid per field; else None (ask pydantic)."""
    if _LONG_FRACTION.search(body):
        return None
    try:
        events = _DECODER.decode(body).events
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    for event in events:
        if not _settle(event):
            return None
    return events


def _settle(event: FastCallEvent) -> bool:
    """The rules pydantic's field validators apply, here as yes/no; the value kept as they keep
    it (UTC time, message cut at 2 KiB)."""
    try:
        stamp = event.timestamp.astimezone(UTC)
    except OverflowError:
        return False
    if stamp < TIME_FLOOR:
        return False
    event.timestamp = stamp
    if event.metadata is not None and not _storable(event.metadata):
        return False
    if event.error_message is not None and len(event.error_message) > MAX_ERROR_MESSAGE:
        event.error_message = event.error_message[:MAX_ERROR_MESSAGE]
    return True


def _storable(metadata: dict[str, Any]) -> bool:
    try:
        return len(orjson.dumps(metadata)) <= MAX_METADATA_BYTES
    except orjson.JSONEncodeError:  # an integer over 64 bits, nesting over 255
        return False
