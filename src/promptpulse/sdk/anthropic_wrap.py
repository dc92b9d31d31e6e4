"""`wrap_anthropic`: record every `messages.create` of an official Anthropic client (sync or async).

    client = wrap_anthropic(Anthropic(), prompt_id="triage", prompt_version="v2")

Streams (`stream=True`) reach the caller unchanged; TTFT is the first content delta. Anthropic's
`input_tokens` excludes the prompt cache: the record's input is input + cache reads + cache writes,
its cached tokens the cache reads.
"""

from __future__ import annotations

from typing import Any

from promptpulse.sdk.client import AsyncClient, Client
from promptpulse.sdk.streams import OnItem
from promptpulse.sdk.track import Call
from promptpulse.sdk.usage import anthropic_usage
from promptpulse.sdk.wrap import base_fields, instrument

_USAGE_KEYS = (
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
)  # fmt: skip


def provider_for(client: Any) -> str:
    name = type(client).__name__
    if "Bedrock" in name:
        return "aws-bedrock"
    if "Vertex" in name:
        return "google-vertex"
    return "anthropic"


def _merge(raw: dict[str, Any], usage: Any) -> None:
    if usage is None:
        return
    for key in _USAGE_KEYS:
        value = getattr(usage, key, None)
        if isinstance(value, int):
            raw[key] = value
    details = getattr(usage, "output_tokens_details", None)
    if details is not None:
        raw["output_tokens_details"] = {"thinking_tokens": getattr(details, "thinking_tokens", 0)}


def _make_on_item(_state: Any) -> OnItem:
    raw: dict[str, Any] = {}  # usage so far: message_start has input, message_delta the output

    def on_item(call: Call, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            model = getattr(message, "model", None)
            if model:
                call.fields["response_model"] = model
            _merge(raw, getattr(message, "usage", None))
        elif kind == "content_block_delta":
            call.first_token()
        elif kind == "message_delta":
            _merge(raw, getattr(event, "usage", None))
            if getattr(getattr(event, "delta", None), "stop_reason", None) == "refusal":
                call.fields.update(status="error", error_type="content_filter")
        else:
            return True
        call.fields.update(anthropic_usage(raw))
        return True

    return on_item


def wrap_anthropic(
    client: Any,
    *,
    prompt_id: str | None = None,
    prompt_version: str | None = None,
    provider: str | None = None,
    promptpulse_client: Client | AsyncClient | None = None,
    **fields: Any,
) -> Any:
    """Instrument an `anthropic.Anthropic` / `AsyncAnthropic` client in place and return it.

    Same options as `wrap_openai`; per call, pass `promptpulse={...}` to `messages.create`.
    """
    base = base_fields(provider or provider_for(client), prompt_id, prompt_version, fields)
    instrument(
        client.messages,
        "create",
        pp=promptpulse_client,
        base=base,
        prepare=lambda kwargs: None,
        make_on_item=_make_on_item,
    )
    return client
