// The Vercel AI SDK (ai 5 with experimental_telemetry) calling the fake providers, exporting
// OTLP/HTTP to a live PromptPulse; prints the finished spans as JSON for the test.
// Run from .instr-node (scripts/instrumentation-env installs its packages there).
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { generateText, streamText, embed } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';

const env = process.env;
const memory = new InMemorySpanExporter();
const otlp = new OTLPTraceExporter({
  url: `${env.PP_URL}/v1/traces`,
  headers: { Authorization: `Bearer ${env.PP_KEY}` },
});
// [seconds, nanoseconds] -> exact nanoseconds as a decimal string (a Number would round them).
const nanos = (t) => (BigInt(t[0]) * 1000000000n + BigInt(t[1])).toString();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'instr-vercel' }),
  spanProcessors: [
    // One export at shutdown: the schedule delay is longer than the run.
    new BatchSpanProcessor(otlp, { scheduledDelayMillis: 600000 }),
    new SimpleSpanProcessor(memory),
  ],
});
provider.register();

// The AI SDK's own attribution: telemetry metadata and the function id.
const telemetry = {
  isEnabled: true,
  functionId: 'greet-fn',
  metadata: { userId: 'u-1', promptId: 'greet', promptVersion: 'v1' },
};
const openai = createOpenAI({ baseURL: `${env.OPENAI_URL}/v1`, apiKey: 'test' });
const anthropic = createAnthropic({ baseURL: `${env.ANTHROPIC_URL}/v1`, apiKey: 'test' });
const ask = { prompt: 'Say hello', experimental_telemetry: telemetry, maxRetries: 0 };

await generateText({ model: openai.chat('gpt-4o-mini'), ...ask });
const stream = streamText({ model: openai.chat('gpt-4o-mini'), ...ask });
for await (const _ of stream.textStream) {
  // drain
}
try {
  await generateText({ model: openai.chat('fake-429'), ...ask });
} catch (error) {
  console.error(`expected failure: ${error.name}`);
}
await generateText({ model: anthropic('claude-sonnet-4-20250514'), ...ask });

await provider.forceFlush(); // the OTLP export
const finished = memory.getFinishedSpans(); // before shutdown, which empties the memory exporter
await provider.shutdown();
console.log(
  JSON.stringify(
    finished.map((s) => ({
      trace_id: s.spanContext().traceId,
      span_id: s.spanContext().spanId,
      parent_id: s.parentSpanContext?.spanId ?? s.parentSpanId ?? null,
      name: s.name,
      start: nanos(s.startTime),
      end: nanos(s.endTime),
      attributes: s.attributes,
      events: s.events.map((e) => ({
        name: e.name,
        time: nanos(e.time),
        attributes: e.attributes,
      })),
    })),
  ),
);
