"""The OpenAI Responses API and Anthropic's `messages.stream()` helper, wrapped: the real `openai`
and `anthropic` clients against the fake providers, sync and async."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from genai_prices import Usage, calc_price

from promptpulse.sdk import Client, wrap_anthropic, wrap_openai
from tests.conftest import LiveServer
from tests.fakes import FakeServer, FakeUsage, start_fake_anthropic, start_fake_openai
from tests.fakes import fake_anthropic as fa
from tests.fakes import fake_openai as fo
from tests.sdk.helpers import stored
from tests.sdk.test_wrappers import _run

USAGE = FakeUsage(input_tokens=1500, output_tokens=120, cached_tokens=1000, reasoning_tokens=30)
CACHED = FakeUsage(input_tokens=1200, output_tokens=90, cached_tokens=900, reasoning_tokens=0,
                   cache_write_tokens=100)  # fmt: skip
ASK = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def oai() -> Iterator[FakeServer]:
    with start_fake_openai() as fake:
        fake.usage = USAGE
        yield fake


@pytest.fixture(scope="module")
def anth() -> Iterator[FakeServer]:
    with start_fake_anthropic() as fake:
        fake.usage = CACHED
        yield fake


@pytest.fixture
def pp(live: LiveServer, project: str) -> Iterator[Client]:
    client = Client(live.url, live.key(project), flush_interval=0.05)
    yield client
    client.close()


def one(live: LiveServer, pp: Client, project: str) -> dict[str, Any]:
    assert pp.flush(timeout=30)
    rows = stored(live, project)
    assert len(rows) == 1, rows
    return rows[0]


def cost(model: str, row: dict[str, Any]) -> float:
    found = calc_price(
        Usage(input_tokens=row["input_tokens"], cache_read_tokens=row["cached_tokens"],
              cache_write_tokens=row["cache_write_tokens"], output_tokens=row["output_tokens"]),
        model_ref=model, genai_request_timestamp=row["timestamp"],
    )  # fmt: skip
    return float(found.total_price)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_responses_api(
    live: LiveServer, project: str, pp: Client, oai: FakeServer, is_async: bool, stream: bool
) -> None:
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = wrap_openai(cls(base_url=oai.url + "/v1", api_key="t", max_retries=0),
                         prompt_id="resp", promptpulse_client=pp)  # fmt: skip

    async def call_async() -> Any:
        got = await client.responses.create(
            model="gpt-4o-mini", input="Say hello", stream=stream, promptpulse={"user_id": "u-9"}
        )
        return [e async for e in got] if stream else got

    def call_sync() -> Any:
        got = client.responses.create(model="gpt-4o-mini", input="Say hello", stream=stream,
                                      promptpulse={"user_id": "u-9"})  # fmt: skip
        return list(got) if stream else got

    result = _run(is_async, call_async if is_async else call_sync, client)
    if stream:  # the caller's events, unchanged
        text = "".join(e.delta for e in result if e.type == "response.output_text.delta")
        assert text == fo.REPLY_TEXT and result[-1].type == "response.completed"
    else:
        assert result.output_text == fo.REPLY_TEXT
    assert oai.paths[-1].endswith("/responses") and "promptpulse" not in oai.requests[-1]
    row = one(live, pp, project)
    assert (row["model"], row["response_model"]) == (
        "gpt-4o-mini",
        fo.response_model("gpt-4o-mini"),
    )
    assert (row["prompt_id"], row["user_id"], row["provider"]) == ("resp", "u-9", "openai")
    assert (row["input_tokens"], row["cached_tokens"]) == (USAGE.input_tokens, USAGE.cached_tokens)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (120, 30)
    assert math.isclose(row["cost_usd"], cost("gpt-4o-mini", row), rel_tol=1e-12)
    if stream:
        assert 0 < row["ttft_ms"] <= row["latency_ms"]
    else:
        assert row["ttft_ms"] is None


def test_openai_responses_api_error(
    live: LiveServer, project: str, pp: Client, oai: FakeServer
) -> None:
    client = wrap_openai(openai.OpenAI(base_url=oai.url + "/v1", api_key="t", max_retries=0),
                         promptpulse_client=pp)  # fmt: skip
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="fake-429", input="x")
    row = one(live, pp, project)
    assert (row["status"], row["error_type"], row["http_status"]) == ("error", "rate_limit", 429)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("read", ["text_stream", "final_message", "events"])
def test_anthropic_messages_stream_helper(
    live: LiveServer, project: str, pp: Client, anth: FakeServer, is_async: bool, read: str
) -> None:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    client = wrap_anthropic(
        cls(base_url=anth.url, api_key="t", max_retries=0),
        prompt_id="helper", prompt_version="v2", promptpulse_client=pp,
    )  # fmt: skip
    model = "claude-sonnet-4-20250514"
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 100, "messages": ASK,
                              "promptpulse": {"session_id": "s-1"}}  # fmt: skip

    def call_sync() -> str:
        with client.messages.stream(**kwargs) as s:
            if read == "text_stream":
                return "".join(s.text_stream)
            if read == "final_message":
                return str(s.get_final_message().content[0].text)
            return "".join(e.delta.text for e in s if e.type == "content_block_delta")

    async def call_async() -> str:
        async with client.messages.stream(**kwargs) as s:
            if read == "text_stream":
                return "".join([t async for t in s.text_stream])
            if read == "final_message":
                return str((await s.get_final_message()).content[0].text)
            return "".join([e.delta.text async for e in s if e.type == "content_block_delta"])

    text = _run(is_async, call_async if is_async else call_sync, client)
    assert text == fa.REPLY_TEXT
    assert "promptpulse" not in anth.requests[-1]
    row = one(live, pp, project)
    assert (row["model"], row["response_model"]) == (model, fa.response_model(model))
    assert (row["prompt_id"], row["prompt_version"], row["session_id"]) == ("helper", "v2", "s-1")
    assert [row[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens")] == [
        CACHED.input_tokens, CACHED.cached_tokens, CACHED.cache_write_tokens,
    ]  # fmt: skip
    assert row["output_tokens"] == CACHED.output_tokens
    assert math.isclose(row["cost_usd"], cost(model, row), rel_tol=1e-12)
    assert 0 < row["ttft_ms"] <= row["latency_ms"]


def test_anthropic_messages_stream_helper_error(
    live: LiveServer, project: str, pp: Client, anth: FakeServer
) -> None:
    client = wrap_anthropic(anthropic.Anthropic(base_url=anth.url, api_key="t", max_retries=0),
                            promptpulse_client=pp)  # fmt: skip
    helper = client.messages.stream(model="fake-429", max_tokens=10, messages=ASK)
    with pytest.raises(anthropic.RateLimitError), helper as s:
        s.get_final_message()
    row = one(live, pp, project)
    assert (row["model"], row["status"], row["error_type"], row["http_status"]) == (
        "fake-429", "error", "rate_limit", 429,
    )  # fmt: skip
