"""Run inside .venv-instr (never imported by the test process): one real instrumentation makes
three calls to the fake providers (JSON, stream, a 429) and exports its spans over OTLP/HTTP to a
live PromptPulse, the way a user's app would. Prints the finished spans as JSON for the test.

    python run_instrumented.py NAME     (env: PP_URL, PP_KEY, OPENAI_URL, ANTHROPIC_URL, GEMINI_URL)

Attribution uses each instrumentation's own mechanism where it has one (OpenInference's
`using_attributes`), else an app span around the calls with `promptpulse.prompt.*` and `user.id`
(auto-instrumented LLM spans cannot carry them; the receiver reads them from ancestors).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

PP_URL, PP_KEY = os.environ["PP_URL"], os.environ["PP_KEY"]
OPENAI_URL = os.environ.get("OPENAI_URL", "")
ANTHROPIC_URL = os.environ.get("ANTHROPIC_URL", "")
GEMINI_URL = os.environ.get("GEMINI_URL", "")
MEMORY = InMemorySpanExporter()
APP_ATTRIBUTES = {"promptpulse.prompt.id": "greet", "promptpulse.prompt.version": "v1",
                  "user.id": "u-1"}  # fmt: skip
ASK = [{"role": "user", "content": "Say hello"}]


def otlp() -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=f"{PP_URL}/v1/traces", headers={"Authorization": f"Bearer {PP_KEY}"}, timeout=30
    )


def provider(name: str) -> TracerProvider:
    """The app's tracer provider: OTLP in batches (one export at shutdown: the schedule delay is
    longer than the run), and a copy in memory for the test."""
    tp = TracerProvider(resource=Resource.create({"service.name": f"instr-{name}"}))
    tp.add_span_processor(BatchSpanProcessor(otlp(), schedule_delay_millis=600_000))
    tp.add_span_processor(SimpleSpanProcessor(MEMORY))
    trace.set_tracer_provider(tp)
    return tp


@contextlib.contextmanager
def app_span(label: str) -> Iterator[None]:
    with trace.get_tracer("app").start_as_current_span(f"app {label}", attributes=APP_ATTRIBUTES):
        yield


def attempt(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception as exc:  # the 429 call: the instrumentation records it
        print(f"expected failure: {type(exc).__name__}", file=sys.stderr)


# --- one function per instrumentation: three calls each -----------------------------------------


def openai_client() -> Any:
    import openai

    return openai.OpenAI(base_url=OPENAI_URL + "/v1", api_key="test", max_retries=0)


def openai_calls(client: Any, model: str = "gpt-4o-mini") -> None:
    with app_span("json"):
        client.chat.completions.create(model=model, messages=ASK)
    with app_span("stream"):
        stream = client.chat.completions.create(
            model=model, messages=ASK, stream=True, stream_options={"include_usage": True}
        )
        for _ in stream:
            pass
    with app_span("error"):
        attempt(lambda: client.chat.completions.create(model="fake-429", messages=ASK))


def anthropic_calls(model: str = "claude-sonnet-4-20250514") -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=ANTHROPIC_URL, api_key="test", max_retries=0)
    with app_span("json"):
        client.messages.create(model=model, max_tokens=100, messages=ASK)
    with app_span("stream"):
        for _ in client.messages.create(model=model, max_tokens=100, messages=ASK, stream=True):
            pass
    with app_span("error"):
        attempt(lambda: client.messages.create(model="fake-429", max_tokens=10, messages=ASK))


def run_openllmetry_openai() -> None:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()
    openai_calls(openai_client())


def run_openai_v2() -> None:
    # Runs in the project's venv (its pin), with OTEL_SEMCONV_STABILITY_OPT_IN set by the test.
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()
    openai_calls(openai_client())


def run_openllmetry_anthropic() -> None:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument()
    anthropic_calls()


def run_openinference_anthropic() -> None:
    from openinference.instrumentation import using_attributes
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument()
    # OpenInference's own context: user, session, prompt template version; the prompt id comes
    # from the app span around it.
    with using_attributes(user_id="u-1", session_id="s-1", prompt_template_version="v1",
                          prompt_template="Say {what}"):  # fmt: skip
        anthropic_calls()


def run_openinference_langchain() -> None:
    from langchain_openai import ChatOpenAI
    from openinference.instrumentation.langchain import LangChainInstrumentor

    LangChainInstrumentor().instrument()

    def chat(model: str) -> Any:
        return ChatOpenAI(model=model, base_url=OPENAI_URL + "/v1", api_key="test",
                          max_retries=0, stream_usage=True)  # fmt: skip

    with app_span("json"):
        chat("gpt-4o-mini").invoke("Say hello")
    with app_span("stream"):
        for _ in chat("gpt-4o-mini").stream("Say hello"):
            pass
    with app_span("error"):
        attempt(lambda: chat("fake-429").invoke("Say hello"))


def run_pydantic_ai() -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    Agent.instrument_all(InstrumentationSettings(include_content=False))
    api = OpenAIProvider(base_url=OPENAI_URL + "/v1", api_key="test")

    def agent(model: str) -> Any:
        return Agent(OpenAIChatModel(model, provider=api), retries=0)

    async def stream() -> None:
        async with agent("gpt-4o-mini").run_stream("Say hello") as result:
            async for _ in result.stream_text():
                pass

    with app_span("json"):
        agent("gpt-4o-mini").run_sync("Say hello")
    with app_span("stream"):
        asyncio.run(stream())
    with app_span("error"):
        attempt(lambda: agent("fake-429").run_sync("Say hello"))


class Tee(SpanExporter):
    def __init__(self, *exporters: SpanExporter) -> None:
        self.exporters = exporters

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        results = [e.export(spans) for e in self.exporters]
        ok = all(r == SpanExportResult.SUCCESS for r in results)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        for e in self.exporters:
            e.shutdown()


def run_litellm() -> None:
    import litellm
    from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig

    litellm.callbacks = [OpenTelemetry(config=OpenTelemetryConfig(exporter=Tee(otlp(), MEMORY)))]
    base = {"api_base": OPENAI_URL + "/v1", "api_key": "test", "num_retries": 0}
    # No non-streamed call: LiteLLM 1.110 logs its span from a worker thread that may not run
    # before the process ends (a synchronous one came in about half the runs, an async one never).
    with app_span("stream"):
        for _ in litellm.completion(model="openai/gpt-4o-mini", messages=ASK, stream=True,
                                    stream_options={"include_usage": True}, **base):  # fmt: skip
            pass
    with app_span("error"):
        attempt(lambda: litellm.completion(model="openai/fake-429", messages=ASK, **base))
    # Its stream span is logged from a worker thread too: wait for both calls' spans.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(llm_spans()) < 2:
        time.sleep(0.2)


def llm_spans() -> list[ReadableSpan]:
    return [s for s in MEMORY.get_finished_spans()
            if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]  # fmt: skip


def run_google_genai() -> None:
    from google import genai
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    GoogleGenAiSdkInstrumentor().instrument()
    client = genai.Client(api_key="test", http_options={"base_url": GEMINI_URL})
    with app_span("json"):
        client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
    with app_span("stream"):
        for _ in client.models.generate_content_stream(model="gemini-2.5-flash",
                                                       contents="Say hello"):  # fmt: skip
            pass
    with app_span("error"):
        attempt(lambda: client.models.generate_content(model="fake-429", contents="Say hello"))


RUNS: dict[str, Callable[[], None]] = {
    "openai-v2": run_openai_v2,
    "openllmetry-openai": run_openllmetry_openai,
    "openllmetry-anthropic": run_openllmetry_anthropic,
    "openinference-anthropic": run_openinference_anthropic,
    "openinference-langchain": run_openinference_langchain,
    "pydantic-ai": run_pydantic_ai,
    "litellm": run_litellm,
    "google-genai": run_google_genai,
}


def as_json(span: ReadableSpan) -> dict[str, Any]:
    ctx, parent = span.context, span.parent
    return {
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "name": span.name,
        "start": span.start_time,
        "end": span.end_time,
        "attributes": {
            k: v if isinstance(v, str | int | float | bool) else list(v)
            for k, v in (span.attributes or {}).items()
        },
        "events": [
            {
                "name": e.name,
                "time": e.timestamp,
                "attributes": {k: str(v)[:300] for k, v in (e.attributes or {}).items()},
            }
            for e in span.events
        ],
    }


def main(name: str) -> None:
    tp = None if name == "litellm" else provider(name)
    RUNS[name]()
    if tp is not None:
        tp.shutdown()  # flushes the batch: one OTLP export
    print(json.dumps([as_json(s) for s in MEMORY.get_finished_spans()]))


if __name__ == "__main__":
    main(sys.argv[1])
