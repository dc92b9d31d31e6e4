"""`wrap_openai`: record each `chat.completions.create` of an official OpenAI client, sync or async.

    client = wrap_openai(OpenAI(), prompt_id="support", prompt_version="v3")

The client is instrumented in place and returned. Streams: the caller receives the same chunks;
to count tokens the wrapper asks for `stream_options.include_usage` and, when the caller had not
asked for it, hides the extra usage-only chunk again (`stream_usage=False` turns this off).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from promptpulse.sdk.client import AsyncClient, Client
from promptpulse.sdk.streams import OnItem
from promptpulse.sdk.track import Call
from promptpulse.sdk.usage import openai_usage
from promptpulse.sdk.wrap import base_fields, instrument

# OpenAI-compatible hosts whose provider we can name; any other host speaks OpenAI's API.
_HOSTS = {
    "api.openai.com": "openai",
    "openai.azure.com": "azure",
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "openrouter.ai": "openrouter",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
    "api.x.ai": "x-ai",
    "api.fireworks.ai": "fireworks",
    "generativelanguage.googleapis.com": "google",
}


def provider_for(client: Any) -> str:
    host = (urlsplit(str(getattr(client, "base_url", "") or "")).hostname or "").lower()
    for suffix, provider in _HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return provider
    return "openai"


def _prepare(kwargs: dict[str, Any]) -> bool:
    """Ask for usage on the stream; True when the caller had not, so its chunk must be hidden."""
    options = kwargs.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return False
    kwargs["stream_options"] = {
        **(options if isinstance(options, dict) else {}),
        "include_usage": True,
    }
    return True


def _make_on_item(hide_usage: Any) -> OnItem:
    def on_item(call: Call, chunk: Any) -> bool:
        model = getattr(chunk, "model", None)
        if model:
            call.fields["response_model"] = model
        choices = getattr(chunk, "choices", None) or ()
        for choice in choices:
            delta = getattr(choice, "delta", None)
            if delta is not None and (
                getattr(delta, "content", None)
                or getattr(delta, "tool_calls", None)
                or getattr(delta, "refusal", None)
                or getattr(delta, "function_call", None)
            ):
                call.first_token()
            if getattr(choice, "finish_reason", None) == "content_filter":
                call.fields.update(status="error", error_type="content_filter")
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            call.fields.update(openai_usage(usage))
            if hide_usage and not choices:
                return False
        return True

    return on_item


def wrap_openai(
    client: Any,
    *,
    prompt_id: str | None = None,
    prompt_version: str | None = None,
    provider: str | None = None,
    promptpulse_client: Client | AsyncClient | None = None,
    stream_usage: bool = True,
    **fields: Any,
) -> Any:
    """Instrument an `openai.OpenAI` / `AsyncOpenAI` (or Azure) client in place and return it.

    `fields` (e.g. `feature=`, `environment=`, `tags=`) go on every call; per call, pass
    `promptpulse={"user_id": ..., "id": ...}` to `create`. Errors are recorded with their type
    (timeout, rate_limit, ...) and re-raised unchanged.
    """
    base = base_fields(provider or provider_for(client), prompt_id, prompt_version, fields)
    instrument(
        client.chat.completions,
        "create",
        pp=promptpulse_client,
        base=base,
        prepare=_prepare if stream_usage else (lambda kwargs: False),
        make_on_item=_make_on_item,
    )
    return client
