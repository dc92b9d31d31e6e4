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
# The Vercel AI SDK: the provider call is the inner span (`ai.operationId`); the outer ones
# (ai.generateText, ai.streamText...) sum its steps and are skipped.
VERCEL_OPERATION = "ai.operationId"
VERCEL_CALLS = {
    "ai.generateText.doGenerate": "chat", "ai.streamText.doStream": "chat",
    "ai.generateObject.doGenerate": "chat", "ai.streamObject.doStream": "chat",
    "ai.embed.doEmbed": "embeddings", "ai.embedMany.doEmbed": "embeddings",
}  # fmt: skip

# --- attribute names, first present wins --------------------------------------------
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system",
            "ai.model.provider")  # fmt: skip
PROVIDER_URL = ("server.address", "gen_ai.openai.api_base")
REQUEST_MODEL = ("gen_ai.request.model", "llm.request.model", "llm.request.model_name",
                 "ai.model.id")  # fmt: skip
RESPONSE_MODEL = ("gen_ai.response.model", "llm.response.model", "llm.response.model_name",
                  "ai.response.model", "llm.model_name")  # fmt: skip
RESPONSE_ID = ("gen_ai.response.id", "ai.response.id")
INVOCATION_PARAMETERS = "llm.invocation_parameters"
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt", "llm.usage.prompt_tokens", "ai.usage.inputTokens",
                "ai.usage.promptTokens", "ai.usage.tokens")  # fmt: skip
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                 "llm.token_count.completion", "llm.usage.completion_tokens",
                 "ai.usage.outputTokens", "ai.usage.completionTokens")  # fmt: skip
CACHE_READ_TOKENS = ("gen_ai.usage.cache_read.input_tokens",
                     "gen_ai.usage.cache_read_input_tokens",
                     "llm.token_count.prompt_details.cache_read",
                     "ai.usage.inputTokenDetails.cacheReadTokens",
                     "ai.usage.cachedInputTokens")  # fmt: skip
CACHE_WRITE_TOKENS = ("gen_ai.usage.cache_write.input_tokens",
                      "gen_ai.usage.cache_creation.input_tokens",
                      "gen_ai.usage.cache_creation_input_tokens",
                      "llm.token_count.prompt_details.cache_write",
                      "ai.usage.inputTokenDetails.cacheWriteTokens")  # fmt: skip
REASONING_TOKENS = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                    "gen_ai.usage.details.reasoning_tokens", "llm.usage.reasoning_tokens",
                    "llm.token_count.completion_details.reasoning",
                    "ai.usage.outputTokenDetails.reasoningTokens",
                    "ai.usage.reasoningTokens")  # fmt: skip
# Each token class with the names read for it (docs/otlp.md; conflicts are reported).
TOKEN_CLASSES = {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
                 "cached_tokens": CACHE_READ_TOKENS, "cache_write_tokens": CACHE_WRITE_TOKENS,
                 "reasoning_tokens": REASONING_TOKENS}  # fmt: skip
TTFT_SECONDS = ("gen_ai.response.time_to_first_chunk",
                "gen_ai.client.operation.time_to_first_chunk")  # fmt: skip
TTFT_MS = ("ai.response.msToFirstChunk", "ai.stream.msToFirstChunk")
FIRST_TOKEN_EVENTS = frozenset(
    {"First Token Stream Event", "gen_ai.content.first_chunk", "ai.stream.firstChunk",
     "llm.content.completion.chunk", "gen_ai.content.completion.chunk"}
)  # fmt: skip
REPORTED_COST = ("gen_ai.cost.total_cost", "gen_ai.usage.cost", "llm.usage.total_cost")
SESSION = ("gen_ai.conversation.id", "session.id", "ai.telemetry.metadata.sessionId",
           "ai.telemetry.metadata.session_id")  # fmt: skip
USER = ("user.id", "gen_ai.user", "llm.user", "enduser.id", "ai.telemetry.metadata.userId",
        "ai.telemetry.metadata.user_id")  # fmt: skip
STREAM = ("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming")
HTTP_STATUS = ("http.response.status_code", "http.status_code")
ENVIRONMENT = ("deployment.environment.name", "deployment.environment")
PROMPT_ID = ("promptpulse.prompt.id", "prompt.id", "ai.telemetry.metadata.promptId",
             "ai.telemetry.metadata.prompt_id")  # fmt: skip
PROMPT_VERSION = ("promptpulse.prompt.version", "llm.prompt_template.version",
                  "ai.telemetry.metadata.promptVersion",
                  "ai.telemetry.metadata.prompt_version")  # fmt: skip
FEATURE = ("promptpulse.feature", "ai.telemetry.functionId")
PROJECT = "promptpulse.project"
SERVICE = "service.name"
# Read from the LLM span, then its ancestors in the same trace, then the resource.
INHERITED = {"prompt_id": PROMPT_ID, "prompt_version": PROMPT_VERSION, "feature": FEATURE,
             "user_id": USER, "session_id": SESSION}  # fmt: skip

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


def counts(attrs: Attributes, names: Iterable[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """Every named attribute present: (name, whole number) for the valid ones, and the names of
    those present but not a whole number ≥ 0 (to report)."""
    valid: list[tuple[str, int]] = []
    malformed: list[str] = []
    for name in names:
        value = attrs.get(name)
        if value is None:
            continue
        number = _whole(scalar_of(value))
        if number is None:
            malformed.append(name)
        else:
            valid.append((name, number))
    return valid, malformed


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
