"""A fake Gemini API server (what `google-genai` calls):
`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.

Gemini's `promptTokenCount` includes the cached part (`cachedContentTokenCount`); its
`candidatesTokenCount` excludes thinking (`thoughtsTokenCount`), so the fake reports
`candidatesTokenCount = usage.output_tokens - usage.reasoning_tokens`, and PromptPulse's output
(reasoning included) is `fake.usage.output_tokens`. The served model is `modelVersion`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from tests.fakes.server import FakeServer, Reply, error_reply

REPLY_WORDS = ("Hello", " from", " the", " fake", " Gemini", ".")
REPLY_TEXT = "".join(REPLY_WORDS)
_PATH = re.compile(r"/models/([^/:?]+):(generateContent|streamGenerateContent)")


def response_model(model: str) -> str:
    return f"{model}-001"


def _usage(fake: FakeServer) -> dict[str, Any]:
    u = fake.usage
    return {
        "promptTokenCount": u.input_tokens,
        "cachedContentTokenCount": u.cached_tokens,
        "candidatesTokenCount": u.output_tokens - u.reasoning_tokens,
        "thoughtsTokenCount": u.reasoning_tokens,
        "totalTokenCount": u.input_tokens + u.output_tokens,
    }


def _error(status: int) -> dict[str, Any]:
    name = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": f"fake error {status}", "status": name}}


def _candidate(text: str, finish: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        out["finishReason"] = finish
    return out


def _route(fake: FakeServer, path: str, req: dict[str, Any]) -> Reply:
    found = _PATH.search(path)
    if found is None:
        return Reply(404, _error(404))
    model, method = found.group(1), found.group(2)
    failure = fake.take_failure()
    if failure is not None:
        return error_reply(failure.status, _error(failure.status), failure.retry_after)
    if model == "fake-429":
        return error_reply(429, _error(429), 0)
    rid = uuid.uuid4().hex[:20]
    served = response_model(model)
    if method == "streamGenerateContent":
        return Reply(frames=_stream(fake, rid, served))
    body = {
        "candidates": [_candidate(REPLY_TEXT, "STOP")],
        "usageMetadata": _usage(fake),
        "modelVersion": served,
        "responseId": rid,
    }
    return Reply(body=body)


def _stream(fake: FakeServer, rid: str, served: str) -> Iterator[bytes]:
    for i, word in enumerate(REPLY_WORDS):
        last = i == len(REPLY_WORDS) - 1
        body: dict[str, Any] = {
            "candidates": [_candidate(word, "STOP" if last else None)],
            "modelVersion": served,
            "responseId": rid,
        }
        if last:
            body["usageMetadata"] = _usage(fake)
        yield b"data: " + json.dumps(body).encode() + b"\r\n\r\n"


def start_fake_gemini() -> FakeServer:
    """Start a fake Gemini server:
    `genai.Client(api_key=..., http_options={"base_url": fake.url})`."""
    return FakeServer(_route)
