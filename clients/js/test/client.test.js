// Run by tests/sdk/test_js_client.py against a real PromptPulse server and the fake OpenAI server:
//   PROMPTPULSE_URL, PROMPTPULSE_API_KEY (scopes ingest,read), FAKE_OPENAI_URL, FAKE_ANTHROPIC_URL
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { PromptPulse, wrapOpenAI, wrapAnthropic, classify, parseRetryAfter } from "../index.js";

const URL_ = process.env.PROMPTPULSE_URL;
const KEY = process.env.PROMPTPULSE_API_KEY;
const FAKE = process.env.FAKE_OPENAI_URL;
const FAKE_ANTHROPIC = process.env.FAKE_ANTHROPIC_URL;
const MESSAGES = [{ role: "user", content: "Say hello" }];
const REPLY = "Hello from the fake model.";
const quiet = { warn() {} };

async function overview(filters) {
  const now = Date.now();
  const params = new URLSearchParams({
    from: new Date(now - 3600_000).toISOString(), to: new Date(now + 3600_000).toISOString(), ...filters,
  });
  const res = await fetch(`${URL_}/v1/metrics/overview?${params}`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(res.status, 200);
  return res.json();
}

function client(options = {}) {
  return new PromptPulse({ flushInterval: 20, logger: quiet, ...options });
}

function openai(timeout = 30_000) {
  return new OpenAI({ baseURL: `${FAKE}/v1`, apiKey: "test", maxRetries: 0, timeout });
}

test("batches land, each once", async () => {
  const pp = client({ batchSize: 50 });
  for (let i = 0; i < 120; i++) pp.record({ model: "gpt-4o-mini", latencyMs: i, promptId: "js-batch", inputTokens: 10 });
  assert.equal(await pp.flush(30_000), true);
  assert.deepEqual([pp.stats.accepted, pp.stats.duplicates, pp.stats.dropped], [120, 0, 0]);
  const o = await overview({ prompt_id: "js-batch" });
  assert.equal(o.requests, 120);
  assert.equal(o.tokens.input, 1200);
  await pp.shutdown();
});

test("wrapOpenAI: a JSON answer is recorded with model and tokens", async () => {
  const pp = client();
  const ai = wrapOpenAI(openai(), { promptId: "js-wrap", promptVersion: "v1", promptpulse: pp });
  const res = await ai.chat.completions.create({
    model: "gpt-4o-mini", messages: MESSAGES, promptpulse: { user_id: "u-js", id: "js-call-1" },
  });
  assert.equal(res.choices[0].message.content, REPLY);
  assert.equal(await pp.flush(30_000), true);
  assert.equal(pp.stats.accepted, 1);
  // The model asked for (the served, dated one is response_model).
  const o = await overview({ prompt_id: "js-wrap", model: "gpt-4o-mini", user_id: "u-js" });
  assert.equal(o.requests, 1);
  assert.equal(o.tokens.input, 21);
  assert.equal(o.tokens.cached, 16);
  assert.equal(o.ttft_ms.p50, null);
  await pp.shutdown();
});

test("wrapOpenAI: a stream reaches the caller unchanged, with TTFT and usage recorded", async () => {
  const pp = client();
  const ai = wrapOpenAI(openai(), { promptId: "js-stream", promptpulse: pp });
  const stream = await ai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), REPLY);
  assert.ok(chunks.every((c) => c.choices.length === 1), "the added usage chunk is hidden");
  assert.equal(await pp.flush(30_000), true);
  const o = await overview({ prompt_id: "js-stream" });
  assert.equal(o.requests, 1);
  assert.equal(o.tokens.output, 7);
  assert.ok(o.ttft_ms.p50 > 0 && o.ttft_ms.p50 <= o.latency_ms.max);
  await pp.shutdown();
});

test("wrapOpenAI: 429 and timeout are recorded, then thrown unchanged", async () => {
  const pp = client();
  const ai = wrapOpenAI(openai(300), { promptId: "js-errors", promptpulse: pp });
  await assert.rejects(ai.chat.completions.create({ model: "fake-429", messages: MESSAGES }), OpenAI.RateLimitError);
  await assert.rejects(
    ai.chat.completions.create({ model: "fake-slow", messages: MESSAGES, stream: true }),
    OpenAI.APIConnectionTimeoutError,
  );
  assert.equal(await pp.flush(30_000), true);
  const o = await overview({ prompt_id: "js-errors" });
  assert.equal(o.errors, 2);
  assert.deepEqual(o.errors_by_type, { rate_limit: 1, timeout: 1 });
  await pp.shutdown();
});

test("track times a function and records its error", async () => {
  const pp = client();
  const out = await pp.track({ promptId: "js-track", model: "m" }, async (call) => {
    call.firstToken();
    call.set({ outputTokens: 3 });
    return "ok";
  });
  assert.equal(out, "ok");
  assert.throws(() => pp.track({ promptId: "js-track", model: "m" }, () => { throw new RangeError("bad"); }), RangeError);
  assert.equal(await pp.flush(30_000), true);
  const o = await overview({ prompt_id: "js-track" });
  assert.deepEqual([o.requests, o.errors, o.tokens.output], [2, 1, 3]);
  await pp.shutdown();
});

function scripted(statuses) {
  const bodies = [];
  const server = createServer((req, res) => {
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      let raw = Buffer.concat(parts);
      if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
      const body = JSON.parse(raw);
      bodies.push(body);
      const [status, headers] = statuses.shift() ?? [200, {}];
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify({ accepted: (body.events ?? body.scores).length, duplicates: 0, rejected: [] }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, bodies })));
}

test("retries honour Retry-After and resend the same ids; 401 is not retried", async (t) => {
  const { server, bodies } = await scripted([[429, { "retry-after": "0" }], [503, { "retry-after": "0" }], [502, {}], [401, {}]]);
  const url = `http://127.0.0.1:${server.address().port}`;
  const pp = client({ url, apiKey: "k", backoffBase: 1 });
  t.after(() => server.close());
  pp.record({ model: "m", latencyMs: 1 });
  pp.record({ model: "m", latencyMs: 2 });
  assert.equal(await pp.flush(10_000), true);
  assert.deepEqual([pp.stats.retries, pp.stats.failed, pp.stats.accepted], [3, 2, 0]);
  const ids = bodies.map((b) => b.events.map((e) => e.id).join());
  assert.equal(new Set(ids).size, 1, "every attempt carried the same ids");
  pp.record({ model: "m", latencyMs: 3 });
  assert.equal(await pp.flush(10_000), true);
  assert.equal(pp.stats.accepted, 1);
  await pp.shutdown();
});

test("a full queue drops, counts and warns; no key records nothing", async () => {
  const warnings = [];
  const pp = new PromptPulse({ url: "http://127.0.0.1:9", apiKey: "k", maxQueue: 5, flushInterval: 60_000, logger: { warn: (m) => warnings.push(m) } });
  for (let i = 0; i < 8; i++) pp.record({ model: "m", latencyMs: i });
  assert.equal(pp.stats.dropped, 3);
  assert.ok(warnings.some((w) => String(w).includes("queue is full")));
  await pp.shutdown(50);
  assert.equal(pp.stats.failed, 5);
  const off = new PromptPulse({ apiKey: "", url: URL_, logger: quiet });
  assert.equal(off.enabled, false);
  assert.ok(off.record({ model: "m", latencyMs: 1 }));
  assert.equal(await off.flush(10), true);
});

test("beforeExit flushes a script that just ends", () => {
  const script = `
    import { PromptPulse } from ${JSON.stringify(fileURLToPath(new URL("../index.js", import.meta.url)))};
    const pp = new PromptPulse({ flushInterval: 60000 });
    for (let i = 0; i < 4; i++) pp.record({ model: "exit", latencyMs: i, promptId: "js-exit" });
  `;
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: process.env, timeout: 30_000 });
  assert.equal(out.status, 0, String(out.stderr));
  return overview({ prompt_id: "js-exit" }).then((o) => assert.equal(o.requests, 4));
});

test("helpers", () => {
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter("nonsense"), null);
  assert.deepEqual(classify(Object.assign(new Error("x"), { status: 429 })), ["rate_limit", 429]);
  assert.deepEqual(classify(new TypeError("x")), ["other", null]);
});

function anthropic(timeout = 30_000) {
  return new Anthropic({ baseURL: FAKE_ANTHROPIC, apiKey: "test", maxRetries: 0, timeout });
}

test("wrapAnthropic: JSON and stream recorded with every token class and TTFT", async () => {
  const pp = client();
  const ai = wrapAnthropic(anthropic(), { promptId: "js-anthropic", promptVersion: "v2", promptpulse: pp });
  const body = { model: "claude-sonnet-4-20250514", max_tokens: 100, messages: MESSAGES };
  const res = await ai.messages.create({ ...body, promptpulse: { id: "js-anth-json" } });
  assert.equal(res.content[0].text, "Hello from the fake Claude.");
  const stream = await ai.messages.create({ ...body, stream: true, promptpulse: { id: "js-anth-stream" } });
  const kinds = [];
  for await (const event of stream) kinds.push(event.type);
  assert.equal(kinds[0], "message_start");
  assert.equal(kinds.at(-1), "message_stop");
  await assert.rejects(ai.messages.create({ ...body, model: "fake-429", promptpulse: { id: "js-anth-429" } }),
    (err) => err.status === 429);
  assert.equal(await pp.flush(30_000), true);
  assert.equal(pp.stats.accepted, 3);
  await pp.shutdown();
});

test("budgetOk: the server's answer, cached; open when it cannot answer, closed when asked", async () => {
  let asked = 0;
  const counting = (...args) => { asked += 1; return fetch(...args); };
  const pp = client({ fetch: counting, budgetTtl: 60_000 });
  assert.equal(await pp.budgetOk({ promptId: "js-budget", userId: "u1" }), true);
  assert.equal(await pp.budgetOk({ prompt_id: "js-budget", user_id: "u1" }), true); // cached
  assert.equal(asked, 1);
  await pp.shutdown();
  const hanging = createServer(() => {}); // accepts, never answers
  await new Promise((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  const slow = client({ url: `http://127.0.0.1:${hanging.address().port}`, budgetTimeout: 100 });
  assert.equal(await slow.budgetOk({ promptId: "p" }), true);
  assert.equal(await slow.budgetOk({ promptId: "q" }, { failClosed: true }), false);
  await slow.shutdown();
  hanging.closeAllConnections?.();
  hanging.close();
  const down = client({ url: "http://127.0.0.1:9", apiKey: "pp_x" });
  assert.equal(await down.budgetOk({ promptId: "p" }), true);
  assert.equal(await down.budgetOk({ promptId: "p" }, { failClosed: true }), false); // the cached failure
  assert.equal(await down.budgetOk({ promptId: "r" }, { failClosed: true }), false);
  await down.shutdown();
});
