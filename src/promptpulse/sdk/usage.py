"""Call-record fields read from provider responses, by duck typing (no provider imports).

- OpenAI chat completions: `usage.prompt_tokens` (cache included),
  `prompt_tokens_details.cached_tokens`, `completion_tokens`,
  `completion_tokens_details.reasoning_tokens`; `finish_reason=content_filter`.
- OpenAI Responses API: `usage.input_tokens`, `input_tokens_details.cached_tokens`, `output_tokens`,
  `output_tokens_details.reasoning_tokens`.
- Anthropic messages: `usage.input_tokens` excludes the cache, so input = input + cache reads +
  cache writes; cached = cache reads; cache writes = `cache_creation_input_tokens`; reasoning =
  `output_tokens_details.thinking_tokens`; `stop_reason=refusal` is a content filter.

The served model (`model` of a response, often dated) is `response_model`; the record's `model`
stays the one the caller asked for.
"""

from __future__ import annotations

from typing import Any


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    # Pydantic models (both SDKs) keep fields in __dict__; a missing attribute there costs an
    # exception inside their __getattr__, which is most of a wrapped call's overhead.
    fields = getattr(obj, "__dict__", None)
    if fields is not None and name in fields:
        return fields[name]
    if obj is None or hasattr(type(obj), "model_fields"):
        return None
    return getattr(obj, name, None)


def openai_usage(usage: Any) -> dict[str, int]:
    """Tokens from an OpenAI `usage` (chat completions or Responses API)."""
    if usage is None:
        return {}
    if _get(usage, "prompt_tokens") is not None:
        inp, out = _get(usage, "prompt_tokens"), _get(usage, "completion_tokens")
        in_details, out_details = (
            _get(usage, "prompt_tokens_details"),
            _get(usage, "completion_tokens_details"),
        )
    else:
        inp, out = _get(usage, "input_tokens"), _get(usage, "output_tokens")
        in_details, out_details = (
            _get(usage, "input_tokens_details"),
            _get(usage, "output_tokens_details"),
        )
    return {
        "input_tokens": _int(inp),
        "output_tokens": _int(out),
        "cached_tokens": _int(_get(in_details, "cached_tokens")),
        "reasoning_tokens": _int(_get(out_details, "reasoning_tokens")),
    }


def anthropic_usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    cache_read = _int(_get(usage, "cache_read_input_tokens"))
    cache_write = _int(_get(usage, "cache_creation_input_tokens"))
    return {
        "input_tokens": _int(_get(usage, "input_tokens")) + cache_read + cache_write,
        "output_tokens": _int(_get(usage, "output_tokens")),
        "cached_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": _int(_get(_get(usage, "output_tokens_details"), "thinking_tokens")),
    }


def from_response(obj: Any) -> dict[str, Any]:
    """Served model, tokens and a content-filter flag from an OpenAI or Anthropic response."""
    usage = _get(obj, "usage")
    fields: dict[str, Any] = {}
    model = _get(obj, "model")
    if isinstance(model, str) and model:
        fields["response_model"] = model
    if usage is None:
        return fields
    if _get(obj, "type") == "message" or _get(usage, "cache_read_input_tokens") is not None:
        fields.update(anthropic_usage(usage))
        if _get(obj, "stop_reason") == "refusal":
            fields["_content_filter"] = True
        return fields
    fields.update(openai_usage(usage))
    for choice in _get(obj, "choices") or ():
        if _get(choice, "finish_reason") == "content_filter":
            fields["_content_filter"] = True
    return fields
