"""The call record and the score, as the API accepts them (DESIGN.md, "The call record").

Pydantic does the per-field work in Rust; rules that span fields live in `cross_field_errors`
so that each error can name the field it is about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, field_validator

from promptpulse.errors import FieldError
from promptpulse.model import TIME_FLOOR

if TYPE_CHECKING:
    from promptpulse.ingest.fast_schema import FastCallEvent

ErrorType = Literal[
    "timeout",
    "rate_limit",
    "validation",
    "content_filter",
    "llm_error",
    "network",
    "system",
    "other",
]
ERROR_TYPES: tuple[str, ...] = ErrorType.__args__  # type: ignore[attr-defined]
ScoreSource = Literal["user", "eval", "human"]

MAX_METADATA_BYTES = 16 * 1024
MAX_ERROR_MESSAGE = 2048
MAX_FUTURE = timedelta(hours=24)

Str64 = Annotated[str, Field(max_length=64)]
Str100 = Annotated[str, Field(max_length=100)]
Str128 = Annotated[str, Field(min_length=1, max_length=128)]
Str200 = Annotated[str, Field(max_length=200)]
# Strict numbers: `true` or "12" is a client bug to report, not a value to guess (ints are
# still accepted where a float is expected).
NonNegFloat = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Strict(), Field(ge=0, le=2**62)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class CallEvent(_Record):
    """One LLM call. Unknown fields are ignored."""

    id: Str128 | None = None
    timestamp: AwareDatetime
    project: Str100 | None = None
    prompt_id: Str200 | None = None
    prompt_version: Str64 | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)]
    # The model the provider says it served (often dated: gpt-4o-mini-2024-07-18); `model` stays
    # the one asked for, which is what users choose and filter by.
    response_model: Str200 | None = None
    provider: Str64 | None = None
    environment: Str200 | None = None
    feature: Str200 | None = None
    user_id: Str200 | None = None
    session_id: Str200 | None = None
    service: Str200 | None = None
    tags: Annotated[list[Str200], Field(max_length=32)] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    status: Literal["success", "error"] = "success"
    error_type: ErrorType | None = None
    error_message: str | None = None
    http_status: Annotated[int, Strict(), Field(ge=100, le=599)] | None = None
    latency_ms: NonNegFloat
    ttft_ms: NonNegFloat | None = None
    queue_ms: NonNegFloat | None = None
    input_tokens: NonNegInt = 0
    output_tokens: NonNegInt = 0
    cached_tokens: NonNegInt = 0
    reasoning_tokens: NonNegInt = 0
    cache_write_tokens: NonNegInt = 0  # input tokens written to the provider's cache
    cost_usd: NonNegFloat | None = None
    cache_hit: Annotated[bool, Strict()] = False
    retries: Annotated[int, Strict(), Field(ge=0, le=1000)] = 0

    @field_validator("timestamp", mode="before")
    @classmethod
    def _rfc3339_only(cls, value: Any) -> Any:
        return _not_a_number_time(value)

    @field_validator("timestamp")
    @classmethod
    def _in_utc_after_floor(cls, value: datetime) -> datetime:
        return _utc_after_floor(value)

    @field_validator("metadata")
    @classmethod
    def _storable_as_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            encoded = orjson.dumps(value)
        except orjson.JSONEncodeError as exc:  # an integer over 64 bits, nesting over 255
            raise ValueError(f"cannot be stored as JSON: {exc}") from None
        if len(encoded) > MAX_METADATA_BYTES:
            raise ValueError("is larger than 16 KiB once encoded as JSON")
        return value

    @field_validator("error_message")
    @classmethod
    def _truncate_message(cls, value: str | None) -> str | None:
        # A long stack trace must not cost the user the whole record: keep the first 2 KiB.
        return value[:MAX_ERROR_MESSAGE] if value is not None else None


def _not_a_number_time(value: Any) -> Any:
    # pydantic would read a bare number (or a string of digits) as Unix seconds; the contract
    # asks for RFC 3339.
    if isinstance(value, int | float) or (isinstance(value, str) and "-" not in value[:5]):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-01-31T12:00:00Z")
    return value


def _utc_after_floor(value: datetime) -> datetime:
    """In UTC, from 2000 on (the future limit is checked against the clock later)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError("is out of range once converted to UTC") from None
    if utc < TIME_FLOOR:
        raise ValueError(f"is before {TIME_FLOOR.date().isoformat()}: send the call's real time")
    return utc


def _number_not_text(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError("must be a JSON number or boolean, not text")
    return value


class EventBatch(_Record):
    events: list[CallEvent]


class Score(_Record):
    """Feedback or an evaluation of one call; thumbs up/down is 1/0."""

    id: Str128 | None = None
    event_id: Str128
    name: Annotated[str, Field(min_length=1, max_length=200)]
    value: Annotated[float, Field(allow_inf_nan=False)]  # thumbs up/down may come as true/false
    comment: Annotated[str, Field(max_length=MAX_ERROR_MESSAGE)] | None = None
    source: ScoreSource | None = None
    timestamp: AwareDatetime | None = None
    project: Str100 | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _rfc3339_only(cls, value: Any) -> Any:
        return _not_a_number_time(value)

    @field_validator("timestamp")
    @classmethod
    def _in_utc_after_floor(cls, value: datetime | None) -> datetime | None:
        return _utc_after_floor(value) if value is not None else None

    @field_validator("value", mode="before")
    @classmethod
    def _not_text(cls, value: Any) -> Any:
        return _number_not_text(value)


class ScoreBatch(_Record):
    scores: list[Score]


def cross_field_errors(event: CallEvent | FastCallEvent, now: datetime) -> list[FieldError]:
    """Rules that involve more than one field, or the clock."""
    errors: list[FieldError] = []
    if event.timestamp.astimezone(UTC) > now + MAX_FUTURE:
        errors.append(FieldError("timestamp", "is more than 24 hours in the future"))
    if event.cached_tokens > event.input_tokens:
        errors.append(FieldError("cached_tokens", "must not exceed input_tokens"))
    elif event.cached_tokens + event.cache_write_tokens > event.input_tokens:
        errors.append(
            FieldError(
                "cache_write_tokens", "cached_tokens + cache_write_tokens exceed input_tokens"
            )
        )
    if event.reasoning_tokens > event.output_tokens:
        errors.append(FieldError("reasoning_tokens", "must not exceed output_tokens"))
    if event.error_type is not None and event.status != "error":
        errors.append(FieldError("error_type", "is allowed only with status=error"))
    return errors


def score_errors(score: Score, now: datetime) -> list[FieldError]:
    if score.timestamp is not None and score.timestamp.astimezone(UTC) > now + MAX_FUTURE:
        return [FieldError("timestamp", "is more than 24 hours in the future")]
    return []
