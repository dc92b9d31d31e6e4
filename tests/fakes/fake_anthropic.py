"""A fake Anthropic server: `POST /v1/messages`, JSON or the streaming event sequence.

Anthropic's `usage.input_tokens` excludes cache reads and writes; the fake reports
`input_tokens = usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens`,
`cache_read_input_tokens = usage.cached_tokens` and `cache_creation_input_tokens =
usage.cache_write_tokens`, so that PromptPulse's input (cache included) equals
`fake.usage.input_tokens`.
`reasoning_tokens` is reported as `output_tokens_details.thinking_tokens`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from tests.fakes.server import FakeServer, Reply, error_reply

REPLY_WORDS = ("Hello", " from", " the", " fake", " Claude", ".")
REPLY_TEXT = "".join(REPLY_WORDS)


def response_model(model: str) -> str:
    return f"{model}-20250219" if not model[-8:].isdigit() else model


def _usage(fake: FakeServer, output: int | None = None) -> dict[str, Any]:
    u = fake.usage
    return {
        "input_tokens": u.input_tokens - u.cached_tokens - u.cache_write_tokens,
        "output_tokens": u.output_tokens if output is None else output,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "output_tokens_details": {"thinking_tokens": u.reasoning_tokens if output is None else 0},
    }


def _error(status: int) -> dict[str, Any]:
    kind = {
        429: "rate_limit_error",
        400: "invalid_request_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"fake error {status}"}}


def _route(fake: FakeServer, path: str, req: dict[str, Any]) -> Reply:
    if not path.rstrip("/").endswith("/v1/messages"):
        return Reply(404, _error(404))
    failure = fake.take_failure()
    if failure is not None:
        return error_reply(failure.status, _error(failure.status), failure.retry_after)
    if req.get("model") == "fake-429":
        return error_reply(429, _error(429), 0)
    if "model" not in req or "messages" not in req or "max_tokens" not in req:
        return Reply(400, _error(400))
    mid = f"msg_{uuid.uuid4().hex[:24]}"
    model = response_model(str(req["model"]))
    if req.get("stream"):
        return Reply(frames=_stream(fake, mid, model))
    return Reply(
        body={
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": REPLY_TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _usage(fake),
        }
    )


def _stream(fake: FakeServer, mid: str, model: str) -> Iterator[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    start = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(fake, output=1),
    }
    yield event("message_start", {"type": "message_start", "message": start})
    yield event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield event("ping", {"type": "ping"})
    for word in REPLY_WORDS:
        delta = {"type": "text_delta", "text": word}
        yield event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
    yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "output_tokens": fake.usage.output_tokens,
                "output_tokens_details": {"thinking_tokens": fake.usage.reasoning_tokens},
            },
        },
    )
    yield event("message_stop", {"type": "message_stop"})


def start_fake_anthropic() -> FakeServer:
    """Start a fake Anthropic server; point the client at `fake.url` (it adds `/v1/messages`)."""
    return FakeServer(_route)
