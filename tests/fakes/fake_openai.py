"""A fake OpenAI-compatible server: `POST /v1/chat/completions` and `POST /v1/responses` (the
Responses API), JSON or SSE stream with usage."""

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


def _responses_usage(fake: FakeServer) -> dict[str, Any]:
    u = fake.usage
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def _response(rid: str, model: str, done: bool, usage: dict[str, Any] | None) -> dict[str, Any]:
    text = [{"type": "output_text", "text": REPLY_TEXT, "annotations": []}]
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "model": model,
        "status": "completed" if done else "in_progress", "error": None,
        "incomplete_details": None, "instructions": None, "metadata": {},
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "temperature": 1.0,
        "top_p": 1.0, "text": {"format": {"type": "text"}}, "usage": usage,
        "output": [{"type": "message", "id": f"msg_{rid}", "status": "completed",
                    "role": "assistant", "content": text}] if done else [],
    }  # fmt: skip


def _responses(fake: FakeServer, req: dict[str, Any]) -> Reply:
    """The Responses API (`client.responses.create`): JSON or its typed SSE events."""
    rid = f"resp_{uuid.uuid4().hex[:24]}"
    model = response_model(str(req["model"]))
    if not req.get("stream"):
        return Reply(body=_response(rid, model, True, _responses_usage(fake)))

    def frames() -> Iterator[bytes]:
        def event(kind: str, n: int, body: dict[str, Any]) -> bytes:
            data = {"type": kind, "sequence_number": n, **body}
            return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()

        yield event("response.created", 0, {"response": _response(rid, model, False, None)})
        for n, word in enumerate(REPLY_WORDS, start=1):
            yield event("response.output_text.delta", n, {"item_id": f"msg_{rid}",
                        "output_index": 0, "content_index": 0, "delta": word,
                        "logprobs": []})  # fmt: skip
        done = _response(rid, model, True, _responses_usage(fake))
        yield event("response.completed", len(REPLY_WORDS) + 1, {"response": done})

    return Reply(frames=frames())


def _route(fake: FakeServer, path: str, req: dict[str, Any]) -> Reply:
    if path.rstrip("/").endswith("/responses") and req.get("model") not in (None, "fake-429"):
        failure = fake.take_failure()
        if failure is not None:
            return error_reply(failure.status, _error(failure.status), failure.retry_after)
        return _responses(fake, req)
    if path.rstrip("/").endswith("/responses"):
        return error_reply(429, _error(429), 0) if req.get("model") else Reply(400, _error(400))
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
