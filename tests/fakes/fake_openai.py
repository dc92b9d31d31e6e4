"""A fake OpenAI-compatible server: `POST /v1/chat/completions`, JSON or SSE stream with usage."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from tests.fakes.server import FakeServer, Reply, error_reply

REPLY_WORDS = ("Hello", " from", " the", " fake", " model", ".")
REPLY_TEXT = "".join(REPLY_WORDS)


def response_model(model: str) -> str:
    """The served model differs from the requested alias, as OpenAI's does."""
    return f"{model}-2024-07-18"


def _usage(fake: FakeServer) -> dict[str, Any]:
    u = fake.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens, "audio_tokens": 0},
    }


def _error(status: int) -> dict[str, Any]:
    kind = {429: "rate_limit_exceeded", 400: "invalid_request_error"}.get(status, "server_error")
    return {"error": {"message": f"fake error {status}", "type": kind, "code": kind}}


def _route(fake: FakeServer, path: str, req: dict[str, Any]) -> Reply:
    if not path.rstrip("/").endswith("/chat/completions"):
        return Reply(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
    failure = fake.take_failure()
    if failure is not None:
        return error_reply(failure.status, _error(failure.status), failure.retry_after)
    if req.get("model") == "fake-429":
        return error_reply(429, _error(429), 0)
    if "model" not in req or "messages" not in req:
        return Reply(400, _error(400))
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    model = response_model(str(req["model"]))
    created = int(time.time())
    if req.get("stream"):
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        return Reply(frames=_stream(fake, cid, model, created, include_usage))
    return Reply(
        body={
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(fake),
            "system_fingerprint": "fp_fake",
        }
    )


def _stream(
    fake: FakeServer, cid: str, model: str, created: int, include_usage: bool
) -> Iterator[bytes]:
    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }
        if include_usage:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    yield chunk(
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    )
    for word in REPLY_WORDS:
        yield chunk([{"index": 0, "delta": {"content": word}, "finish_reason": None}])
    yield chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    if include_usage:
        yield chunk([], _usage(fake))
    yield b"data: [DONE]\n\n"


def start_fake_openai() -> FakeServer:
    """Start a fake OpenAI server; point the client at `fake.url + "/v1"`. Call `.stop()` after."""
    return FakeServer(_route)
