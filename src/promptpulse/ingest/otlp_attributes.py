"""Attribute names of LLM spans, newest first, and tolerant readers of OTLP attribute values.

The names are those of the OpenTelemetry GenAI semantic conventions (v1.41 and older, back to
v1.26), OpenInference and OpenLLMetry/Traceloop; docs/otlp.md has the table. The readers never
raise: a value of the wrong type, negative or not finite counts as absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

MAX_TOKENS = 2**62

# --- which span is an LLM call ------------------------------------------------------
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
LEGACY_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}
OPENINFERENCE_KINDS = {"LLM": "chat", "EMBEDDING": "embeddings"}

# --- attribute names, first present wins --------------------------------------------
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
PROVIDER_URL = ("server.address", "gen_ai.openai.api_base")
REQUEST_MODEL = ("gen_ai.request.model", "llm.request.model")
RESPONSE_MODEL = ("gen_ai.response.model", "llm.response.model", "llm.model_name")
INVOCATION_PARAMETERS = "llm.invocation_parameters"
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt", "llm.usage.prompt_tokens")  # fmt: skip
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                 "llm.token_count.completion", "llm.usage.completion_tokens")  # fmt: skip
CACHE_READ_TOKENS = ("gen_ai.usage.cache_read.input_tokens",
                     "gen_ai.usage.cache_read_input_tokens",
                     "llm.token_count.prompt_details.cache_read")  # fmt: skip
CACHE_WRITE_TOKENS = ("gen_ai.usage.cache_write.input_tokens",
                      "gen_ai.usage.cache_creation.input_tokens",
                      "gen_ai.usage.cache_creation_input_tokens",
                      "llm.token_count.prompt_details.cache_write")  # fmt: skip
REASONING_TOKENS = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                    "llm.usage.reasoning_tokens",
                    "llm.token_count.completion_details.reasoning")  # fmt: skip
TTFT_SECONDS = ("gen_ai.response.time_to_first_chunk",)
FIRST_TOKEN_EVENTS = frozenset({"First Token Stream Event", "gen_ai.content.first_chunk"})
SESSION = ("gen_ai.conversation.id", "session.id")
USER = ("user.id", "gen_ai.user", "llm.user", "enduser.id")
STREAM = ("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming")
HTTP_STATUS = ("http.response.status_code", "http.status_code")
ENVIRONMENT = ("deployment.environment.name", "deployment.environment")
PROMPT_ID = ("promptpulse.prompt.id",)
PROMPT_VERSION = ("promptpulse.prompt.version",)
FEATURE = ("promptpulse.feature",)
PROJECT = "promptpulse.project"
SERVICE = "service.name"

# --- attribute access ---------------------------------------------------------------

Attributes = Mapping[str, AnyValue]


def attributes(pairs: Iterable[KeyValue]) -> dict[str, AnyValue]:
    """Name -> value; the first occurrence of a repeated key wins. Values are read lazily."""
    found: dict[str, AnyValue] = {}
    for pair in pairs:
        found.setdefault(pair.key, pair.value)
    return found


def scalar_of(value: AnyValue) -> str | bool | int | float | None:
    kind = value.WhichOneof("value")
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(value, kind)  # type: ignore[no-any-return]
    return None  # arrays, maps, bytes and empty values are not what we look for


def text(attrs: Attributes, names: Iterable[str], limit: int = 200) -> str | None:
    """The first named attribute that is a non-empty scalar, as text cut to `limit` chars."""
    for name in names:
        value = attrs.get(name)
        if value is None:
            continue
        scalar = scalar_of(value)
        if scalar is None or isinstance(scalar, bool):
            continue
        if isinstance(scalar, float):
            if not math.isfinite(scalar):
                continue
            scalar = int(scalar) if scalar.is_integer() else scalar
        result = str(scalar).strip()
        if result:
            return result[:limit]
    return None


def count(attrs: Attributes, names: Iterable[str]) -> int | None:
    """The first named attribute holding a whole number ≥ 0 (int, integral double, or digits)."""
    for name in names:
        value = attrs.get(name)
        if value is None:
            continue
        number = _whole(scalar_of(value))
        if number is not None:
            return number
    return None


def _whole(scalar: object) -> int | None:
    if isinstance(scalar, bool):
        return None
    if isinstance(scalar, int):
        return scalar if 0 <= scalar <= MAX_TOKENS else None
    if isinstance(scalar, float):
        ok = math.isfinite(scalar) and scalar.is_integer() and 0 <= scalar <= MAX_TOKENS
        return int(scalar) if ok else None
    if isinstance(scalar, str):
        stripped = scalar.strip()
        if stripped.isdigit() and len(stripped) <= 19:
            return _whole(int(stripped))
    return None


def seconds(attrs: Attributes, names: Iterable[str]) -> float | None:
    for name in names:
        value = attrs.get(name)
        scalar = scalar_of(value) if value is not None else None
        if isinstance(scalar, bool) or scalar is None:
            continue
        try:
            number = float(scalar)
        except ValueError:
            continue
        if math.isfinite(number) and number >= 0:
            return number
    return None


def flag(attrs: Attributes, names: Iterable[str]) -> bool | None:
    for name in names:
        value = attrs.get(name)
        scalar = scalar_of(value) if value is not None else None
        if isinstance(scalar, bool):
            return scalar
        if isinstance(scalar, str) and scalar.lower() in ("true", "false"):
            return scalar.lower() == "true"
    return None
