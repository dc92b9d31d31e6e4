"""The real `openai` and `anthropic` clients, wrapped, against local fakes; every field lands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from promptpulse.sdk import Client, last_event_id, wrap_anthropic, wrap_openai
from tests.conftest import LiveServer
from tests.fakes import FakeServer, FakeUsage, start_fake_anthropic, start_fake_openai
from tests.fakes import fake_anthropic as fa
from tests.fakes import fake_openai as fo
from tests.sdk.helpers import stored

USAGE = FakeUsage(input_tokens=1200, output_tokens=90, cached_tokens=1000, reasoning_tokens=40)
ANTHROPIC_USAGE = FakeUsage(
    input_tokens=1200, output_tokens=90, cached_tokens=900, reasoning_tokens=40,
    cache_write_tokens=100,
)  # fmt: skip
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def oai_fake() -> Iterator[FakeServer]:
    with start_fake_openai() as fake:
        yield fake


@pytest.fixture(scope="module")
def anth_fake() -> Iterator[FakeServer]:
    with start_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def pp(live: LiveServer, project: str) -> Iterator[Client]:
    client = Client(live.url, live.key(project), flush_interval=0.05)
    yield client
    client.close()


def _one(live: LiveServer, pp: Client, project: str) -> dict[str, Any]:
    assert pp.flush(timeout=30)
    rows = stored(live, project)
    assert len(rows) == 1, rows
    return rows[0]


def _openai(fake: FakeServer, is_async: bool, timeout: float = 30) -> Any:
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=fake.url + "/v1", api_key="test", max_retries=0, timeout=timeout)


def _anthropic(fake: FakeServer, is_async: bool, timeout: float = 30) -> Any:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=fake.url, api_key="test", max_retries=0, timeout=timeout)


def _run(is_async: bool, fn: Any, client: Any = None) -> Any:
    """Call fn(); for an async client run the coroutine it returns, then close the client."""
    if not is_async:
        try:
            return fn()
        finally:
            if client is not None:
                client.close()  # a timed-out socket left to the GC is a ResourceWarning

    async def go() -> Any:
        try:
            return await fn()
        finally:
            if client is not None:
                await client.close()

    return asyncio.run(go())


async def _drain_async(stream: Any) -> list[Any]:
    return [item async for item in stream]


# -- OpenAI -----------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("stream", "caller_wants_usage"),
    [(False, False), (True, False), (True, True)],
    ids=["json", "stream", "stream-include_usage"],
)
def test_openai_success(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer,
    is_async: bool, stream: bool, caller_wants_usage: bool,
) -> None:  # fmt: skip
    oai_fake.usage = USAGE
    client = wrap_openai(
        _openai(oai_fake, is_async), prompt_id="greet", prompt_version="v2",
        promptpulse_client=pp, feature="chat", tags=["sdk-test"],
    )  # fmt: skip
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "promptpulse": {"user_id": "u-1", "session_id": "s-9"},
    }
    if stream:
        kwargs["stream"] = True
        if caller_wants_usage:
            kwargs["stream_options"] = {"include_usage": True}

    async def call_async() -> Any:
        got = await client.chat.completions.create(**kwargs)
        return (await _drain_async(got)) if stream else got

    def call_sync() -> Any:
        got = client.chat.completions.create(**kwargs)
        return list(got) if stream else got

    result = _run(is_async, call_async if is_async else call_sync, client)
    event_id = last_event_id() if not is_async else None

    # What the caller receives is what the unwrapped client gives.
    sent = oai_fake.requests[-1]
    assert "promptpulse" not in sent
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
        assert text == fo.REPLY_TEXT
        usage_chunks = [c for c in result if not c.choices]
        assert len(usage_chunks) == (1 if caller_wants_usage else 0)
        assert sent["stream_options"] == {"include_usage": True}
    else:
        assert result.choices[0].message.content == fo.REPLY_TEXT
        assert result.usage.prompt_tokens == USAGE.input_tokens

    row = _one(live, pp, project)
    if event_id is not None:
        assert row["id"] == event_id
    assert row["model"] == "gpt-4o-mini"  # what was asked for
    assert row["response_model"] == fo.response_model("gpt-4o-mini")
    assert row["provider"] == "openai"
    assert (row["prompt_id"], row["prompt_version"]) == ("greet", "v2")
    assert (row["user_id"], row["session_id"], row["feature"]) == ("u-1", "s-9", "chat")
    assert row["tags"] == ["sdk-test"]
    assert row["status"] == "success" and row["error_type"] is None
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 90)
    assert (row["cached_tokens"], row["reasoning_tokens"]) == (1000, 40)
    assert row["cost_usd"] is not None and row["cost_usd"] > 0
    assert row["latency_ms"] > 0
    if stream:
        assert row["ttft_ms"] is not None and 0 < row["ttft_ms"] <= row["latency_ms"]
    else:
        assert row["ttft_ms"] is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_rate_limit_is_recorded_and_reraised(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer, is_async: bool, stream: bool
) -> None:
    client = wrap_openai(_openai(oai_fake, is_async), prompt_id="greet", promptpulse_client=pp)
    oai_fake.fail_next(429, retry_after=0)
    with pytest.raises(openai.RateLimitError) as raised:
        _run(is_async, lambda: client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=stream), client)  # fmt: skip
    assert raised.value.status_code == 429  # the provider's own exception, unchanged
    row = _one(live, pp, project)
    assert row["status"] == "error" and row["error_type"] == "rate_limit"
    assert row["http_status"] == 429
    assert "RateLimitError" in row["error_message"]
    assert row["model"] == "gpt-4o-mini"  # no response: the requested model
    assert row["input_tokens"] == 0 and row["ttft_ms"] is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_timeout_is_recorded_and_reraised(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer, is_async: bool, stream: bool
) -> None:
    client = wrap_openai(_openai(oai_fake, is_async, timeout=0.3), promptpulse_client=pp)
    with pytest.raises(openai.APITimeoutError):
        _run(is_async, lambda: client.chat.completions.create(
            model="fake-slow", messages=MESSAGES, stream=stream), client)  # fmt: skip
    row = _one(live, pp, project)
    assert (row["status"], row["error_type"], row["http_status"]) == ("error", "timeout", None)
    assert row["model"] == "fake-slow"


def test_openai_server_error_and_bad_request(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer
) -> None:
    client = wrap_openai(_openai(oai_fake, False), promptpulse_client=pp)
    oai_fake.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    oai_fake.fail_next(400)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert pp.flush(timeout=30)
    rows = stored(live, project)
    assert sorted((r["error_type"], r["http_status"]) for r in rows) == [
        ("llm_error", 500), ("validation", 400)]  # fmt: skip


def test_wrapping_twice_records_once(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer
) -> None:
    client = wrap_openai(wrap_openai(_openai(oai_fake, False), promptpulse_client=pp),
                         promptpulse_client=pp)  # fmt: skip
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len([_one(live, pp, project)]) == 1


def test_stream_closed_early_is_recorded(
    live: LiveServer, project: str, pp: Client, oai_fake: FakeServer
) -> None:
    client = wrap_openai(_openai(oai_fake, False), promptpulse_client=pp)
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as s:
        first = next(iter(s))
        assert first.choices[0].delta.role == "assistant"
    row = _one(live, pp, project)
    assert row["status"] == "success" and row["model"] == "gpt-4o-mini"
    assert row["response_model"] == fo.response_model("gpt-4o-mini")


# -- Anthropic --------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_success(
    live: LiveServer, project: str, pp: Client, anth_fake: FakeServer, is_async: bool, stream: bool
) -> None:
    anth_fake.usage = ANTHROPIC_USAGE
    client = wrap_anthropic(_anthropic(anth_fake, is_async), prompt_id="triage",
                            prompt_version="v7", promptpulse_client=pp,
                            environment="prod")  # fmt: skip
    kwargs: dict[str, Any] = {"model": "claude-3-7-sonnet", "max_tokens": 100,
                              "messages": MESSAGES, "stream": stream}  # fmt: skip

    async def call_async() -> Any:
        got = await client.messages.create(**kwargs)
        return (await _drain_async(got)) if stream else got

    def call_sync() -> Any:
        got = client.messages.create(**kwargs)
        return list(got) if stream else got

    result = _run(is_async, call_async if is_async else call_sync, client)
    if stream:
        kinds = [e.type for e in result]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        text = "".join(e.delta.text for e in result if e.type == "content_block_delta")
        assert text == fa.REPLY_TEXT
    else:
        assert result.content[0].text == fa.REPLY_TEXT

    row = _one(live, pp, project)
    assert row["model"] == "claude-3-7-sonnet"
    assert row["response_model"] == fa.response_model("claude-3-7-sonnet")
    assert (row["provider"], row["environment"]) == ("anthropic", "prod")
    assert (row["prompt_id"], row["prompt_version"]) == ("triage", "v7")
    assert row["status"] == "success"
    # Anthropic's input excludes the cache; the record's input includes reads and writes.
    assert (row["input_tokens"], row["cached_tokens"]) == (1200, 900)
    assert row["cache_write_tokens"] == 100
    assert (row["output_tokens"], row["reasoning_tokens"]) == (90, 40)
    assert row["latency_ms"] > 0
    if stream:
        assert row["ttft_ms"] is not None and 0 < row["ttft_ms"] <= row["latency_ms"]
    else:
        assert row["ttft_ms"] is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_rate_limit_and_timeout(
    live: LiveServer, project: str, pp: Client, anth_fake: FakeServer, is_async: bool, stream: bool
) -> None:
    def wrapped() -> Any:
        return wrap_anthropic(_anthropic(anth_fake, is_async, timeout=0.3), promptpulse_client=pp)

    anth_fake.fail_next(429, retry_after=0)
    client = wrapped()
    with pytest.raises(anthropic.RateLimitError):
        _run(is_async, lambda: client.messages.create(
            model="claude-3-5-haiku", max_tokens=10, messages=MESSAGES, stream=stream),
            client)  # fmt: skip
    client = wrapped()
    with pytest.raises(anthropic.APITimeoutError):
        _run(is_async, lambda: client.messages.create(
            model="fake-slow", max_tokens=10, messages=MESSAGES, stream=stream),
            client)  # fmt: skip
    assert pp.flush(timeout=30)
    rows = stored(live, project)
    got = sorted((r["model"], r["status"], r["error_type"], r["http_status"]) for r in rows)
    assert got == [("claude-3-5-haiku", "error", "rate_limit", 429),
                   ("fake-slow", "error", "timeout", None)]  # fmt: skip
