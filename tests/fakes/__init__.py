"""Fake LLM providers on 127.0.0.1 for tests: the real `openai` / `anthropic` clients talk to them.

Reusable by any test (SDK wrappers, OpenTelemetry instrumentation, the JS client):

    from tests.fakes import start_fake_openai, start_fake_anthropic

    with start_fake_openai() as fake:             # or fake = start_fake_openai(); ...; fake.stop()
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])            # JSON
        client.chat.completions.create(..., stream=True,
                                       stream_options={"include_usage": True})          # SSE
        fake.requests[-1]                          # the request body it received

    with start_fake_anthropic() as fake:
        client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)

    with start_fake_gemini() as fake:              # google-genai
        client = genai.Client(api_key="test", http_options={"base_url": fake.url})

Behaviour (see `FakeServer`): `fake.usage = FakeUsage(input_tokens=, output_tokens=, cached_tokens=,
reasoning_tokens=)` sets what every answer reports; the served model is the requested one plus a
date suffix (`response_model(model)`); `fake.fail_next(429, times=1, retry_after=0)` makes errors;
`fake.delay_s` / the model name `fake-slow` (waits `fake.slow_s`) make client timeouts fire; the
model name `fake-429` always answers 429.
"""

from tests.fakes import fake_anthropic, fake_gemini, fake_openai
from tests.fakes.fake_anthropic import start_fake_anthropic
from tests.fakes.fake_gemini import start_fake_gemini
from tests.fakes.fake_openai import start_fake_openai
from tests.fakes.server import FakeServer, FakeUsage

__all__ = [
    "FakeServer",
    "FakeUsage",
    "fake_anthropic",
    "fake_gemini",
    "fake_openai",
    "start_fake_anthropic",
    "start_fake_gemini",
    "start_fake_openai",
]
