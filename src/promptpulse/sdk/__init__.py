"""PromptPulse's Python SDK: record LLM calls from your app. Standard library only.

    from openai import OpenAI
    from promptpulse.sdk import wrap_openai
    client = wrap_openai(OpenAI(), prompt_id="support", prompt_version="v3")

Reads `PROMPTPULSE_URL` and `PROMPTPULSE_API_KEY`. See docs/sdk.md.
"""

from __future__ import annotations

from typing import Any

from promptpulse.sdk.anthropic_wrap import wrap_anthropic
from promptpulse.sdk.client import AsyncClient, Client, get_client, init
from promptpulse.sdk.errors import classify
from promptpulse.sdk.openai_wrap import wrap_openai
from promptpulse.sdk.sender import Stats
from promptpulse.sdk.track import Call, Track, last_event_id


def track(**fields: Any) -> Track:
    """`with track(prompt_id=..., model=...) as call:` or `@track(...)`, on the default client."""
    return Track(lambda: get_client()._put_event, fields)


def score(event_id: str, name: str, value: float | bool, **options: Any) -> str:
    """Feedback on a call (thumbs up/down: 1/0), on the default client."""
    return get_client().score(event_id, name, value, **options)


def budget_ok(**options: Any) -> bool:
    """`Client.budget_ok` on the default client (see `init`)."""
    return get_client().budget_ok(**options)


def flush(timeout: float | None = None) -> bool:
    """Send what the default client has queued; wait at most `timeout` seconds."""
    return get_client().flush(timeout)


__all__ = [
    "AsyncClient",
    "Call",
    "Client",
    "Stats",
    "Track",
    "budget_ok",
    "classify",
    "flush",
    "get_client",
    "init",
    "last_event_id",
    "score",
    "track",
    "wrap_anthropic",
    "wrap_openai",
]
