// PromptPulse client for Node.js >= 18: record LLM calls without blocking or failing the app.
//
//   import OpenAI from "openai";
//   import { wrapOpenAI } from "promptpulse";
//   const openai = wrapOpenAI(new OpenAI(), { promptId: "support", promptVersion: "v3" });
//
// Reads PROMPTPULSE_URL (default http://127.0.0.1:8000) and PROMPTPULSE_API_KEY. Calls go to a
// bounded in-memory queue; batches are POSTed to /v1/events with retries (exponential backoff with
// full jitter, Retry-After honoured on 429/503); the queue is flushed when the process is about to
// exit (`beforeExit`) or on `await client.flush()` / `await client.shutdown()`. Events carry
// client-made ids, so a retried batch is stored once.

import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { assign as assignVariant } from "./assign.js";

const DEFAULT_URL = "http://127.0.0.1:8000";
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
const GZIP_MIN_BYTES = 1024;
const MAX_RETRY_AFTER_MS = 300_000;
const DROP_WARNING_EVERY_MS = 10_000;
const PATHS = { events: "/v1/events", scores: "/v1/scores" };
const EXPOSURES = "exposures:"; // kind prefix: exposures of one experiment, `exposures:<key>`

/** [path, body key] for a kind of queued item. */
function route(kind) {
  if (kind.startsWith(EXPOSURES)) {
    const key = encodeURIComponent(kind.slice(EXPOSURES.length));
    return [`/v1/experiments/${key}/exposures`, "exposures"];
  }
  return [PATHS[kind], kind];
}

export const ERROR_TYPES = Object.freeze([
  "timeout", "rate_limit", "validation", "content_filter",
  "llm_error", "network", "system", "other",
]);

export function newId() {
  return randomUUID().replaceAll("-", "");
}

/** Seconds-or-HTTP-date Retry-After header -> milliseconds, or null. */
export function parseRetryAfter(value) {
  if (value == null || value === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

/** Exponential backoff with full jitter, in ms. */
export function backoff(attempt, baseMs, capMs) {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
}

/** An error -> [errorType, httpStatus or null], by class name and HTTP status. */
export function classify(err) {
  const names = new Set();
  for (let c = err?.constructor; c && c !== Object; c = Object.getPrototypeOf(c)) names.add(c.name);
  if (err?.name) names.add(err.name);
  const status = Number.isInteger(err?.status) ? err.status : null;
  const has = (...n) => n.some((x) => names.has(x));
  if (has("APIConnectionTimeoutError", "TimeoutError") || status === 408 || status === 504) {
    return ["timeout", status];
  }
  if (has("RateLimitError") || status === 429) return ["rate_limit", status];
  const code = `${err?.code ?? ""} ${err?.error?.code ?? ""} ${err?.error?.type ?? ""}`;
  if (/content_filter|content_policy/.test(code)) return ["content_filter", status];
  if (status !== null) {
    return [[400, 404, 409, 413, 415, 422].includes(status) ? "validation" : "llm_error", status];
  }
  if (has("APIConnectionError", "FetchError") || /ECONNREFUSED|ECONNRESET|ENOTFOUND/.test(String(err?.cause?.code ?? err?.code ?? ""))) {
    return ["network", null];
  }
  if (has("APIError", "OpenAIError")) return ["llm_error", null];
  if (has("RangeError") && /memory|stack/i.test(String(err?.message))) return ["system", null];
  return ["other", null];
}

function clean(fields) {
  const out = {};
  for (const [k, v] of Object.entries(fields ?? {})) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

// camelCase options that name call-record fields -> the record's snake_case names
const FIELD_NAMES = {
  promptId: "prompt_id", promptVersion: "prompt_version", userId: "user_id",
  sessionId: "session_id", latencyMs: "latency_ms", ttftMs: "ttft_ms", queueMs: "queue_ms",
  inputTokens: "input_tokens", outputTokens: "output_tokens", cachedTokens: "cached_tokens",
  reasoningTokens: "reasoning_tokens", cacheWriteTokens: "cache_write_tokens",
  responseModel: "response_model", costUsd: "cost_usd", cacheHit: "cache_hit",
  errorType: "error_type", errorMessage: "error_message", httpStatus: "http_status",
};

/** Accepts both `promptId` and `prompt_id` spellings. */
export function toRecord(fields) {
  const out = {};
  for (const [k, v] of Object.entries(clean(fields))) out[FIELD_NAMES[k] ?? k] = v;
  return out;
}

// The call attributes a budget can filter on (the server's filter dimensions).
const BUDGET_ATTRIBUTES = new Set([
  "project", "prompt_id", "prompt_version", "model", "provider", "environment", "feature",
  "user_id", "session_id", "service", "status", "error_type", "tag",
]);

/** A call's attributes as the query of GET /v1/budgets/check (tags repeated, metadata.<key>). */
export function budgetParams(fields, mode = "spent") {
  const flat = { ...fields };
  if (flat.tags !== undefined) flat.tag = flat.tags;
  if (flat.metadata && typeof flat.metadata === "object") {
    for (const [k, v] of Object.entries(flat.metadata)) flat[`metadata.${k}`] = v;
  }
  const params = new URLSearchParams();
  for (const name of Object.keys(flat).sort()) {
    if (!BUDGET_ATTRIBUTES.has(name) && !name.startsWith("metadata.")) continue;
    const value = flat[name];
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  if (mode !== "spent") params.append("mode", mode);
  return params;
}

/** One call being recorded: set fields, then finish() or fail(err); it is sent once. */
export class Call {
  constructor(sink, fields) {
    const record = toRecord(fields);
    this.id = record.id || newId();
    delete record.id;
    this.fields = record;
    this._sink = sink;
    this._wall = Date.now();
    this._t0 = performance.now();
    this._ttft = null;
    this._done = false;
  }

  set(fields) {
    Object.assign(this.fields, toRecord(fields));
    return this;
  }

  firstToken() {
    if (this._ttft === null) this._ttft = performance.now() - this._t0;
  }

  fail(err) {
    try {
      const [errorType, status] = classify(err);
      Object.assign(this.fields, {
        status: "error",
        error_type: errorType,
        error_message: `${err?.constructor?.name ?? "Error"}: ${err?.message ?? err}`.slice(0, 2048),
      });
      if (status !== null) this.fields.http_status = status;
    } catch {
      // recording never fails the caller
    }
    this.finish();
  }

  finish() {
    if (this._done) return;
    this._done = true;
    try {
      const latency = performance.now() - this._t0;
      const event = { ...clean(this.fields), id: this.id };
      event.timestamp ??= new Date(this._wall).toISOString();
      event.latency_ms ??= latency;
      if (this._ttft !== null) event.ttft_ms ??= Math.min(this._ttft, event.latency_ms);
      if (!event.model) event.model = event.response_model || "unknown"; // none asked for by name
      for (const [part, whole] of [["cached_tokens", "input_tokens"], ["reasoning_tokens", "output_tokens"]]) {
        if (event[part] > (event[whole] ?? 0)) event[part] = event[whole] ?? 0;
      }
      const room = (event.input_tokens ?? 0) - (event.cached_tokens ?? 0);
      if (event.cache_write_tokens > room) event.cache_write_tokens = room;
      this._sink(event);
    } catch {
      // recording never fails the caller
    }
  }
}

export class PromptPulse {
  /**
   * @param {object} [options] see index.d.ts
   */
  constructor(options = {}) {
    const env = globalThis.process?.env ?? {};
    this.url = (options.url ?? env.PROMPTPULSE_URL ?? DEFAULT_URL).replace(/\/+$/, "");
    this.apiKey = options.apiKey ?? env.PROMPTPULSE_API_KEY ?? "";
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.flushInterval = options.flushInterval ?? 1000;
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.timeout = options.timeout ?? 10_000;
    this.backoffBase = options.backoffBase ?? 500;
    this.maxBackoff = options.maxBackoff ?? 30_000;
    this.shutdownTimeout = options.shutdownTimeout ?? 5000;
    this.defaults = toRecord(options.defaults ?? {});
    this.budgetTtl = options.budgetTtl ?? 5000;
    this.budgetTimeout = options.budgetTimeout ?? 250;
    this._budgetCache = new Map();
    this.logger = options.logger === undefined ? console : options.logger;
    this._fetch = options.fetch ?? globalThis.fetch;
    this.stats = {
      queued: 0, accepted: 0, duplicates: 0, rejected: 0, dropped: 0, failed: 0, retries: 0, batches: 0,
    };
    this._queue = [];
    this._pending = 0;
    this._waiters = [];
    this._draining = null;
    this._timer = null;
    this._sleepTimer = null;
    this._wakeSleep = null;
    this._giveUpAt = null;
    this._closed = false;
    this._lastDropWarning = 0;
    this.enabled = options.enabled !== false && Boolean(this.apiKey);
    if (options.enabled !== false && !this.apiKey) {
      this._warn("PromptPulse: no API key (PROMPTPULSE_API_KEY); calls are not recorded");
    }
    if (this.enabled && globalThis.process?.on) {
      this._onBeforeExit = () => this._exitFlush();
      process.on("beforeExit", this._onBeforeExit);
    }
  }

  _warn(...args) {
    try {
      this.logger?.warn?.(...args);
    } catch {
      // a broken logger must not break the app
    }
  }

  /** Record a finished call (snake_case or camelCase fields; model and latency at least). */
  record(fields) {
    try {
      const event = toRecord(fields);
      event.id ||= newId();
      event.timestamp ??= new Date().toISOString();
      this._putEvent(event);
      return event.id;
    } catch {
      return fields?.id ?? "";
    }
  }

  /**
   * Whether a call with these attributes may go ahead: no budget it falls in is spent
   * (mode "projected": nor projected to overrun), asked of GET /v1/budgets/check. Cached per
   * attribute set for `budgetTtl` ms; waits at most `timeout` (`budgetTimeout`) ms; when the
   * server cannot say, true (fail open) unless `failClosed`. Never rejects.
   */
  async budgetOk(attributes = {}, { mode = "spent", failClosed = false, timeout } = {}) {
    try {
      const params = budgetParams({ ...this.defaults, ...toRecord(attributes) }, mode);
      const key = params.toString();
      const hit = this._budgetCache.get(key);
      if (hit && hit.until > Date.now()) return hit.allowed ?? !failClosed;
      const allowed = await this._askBudget(params, timeout ?? this.budgetTimeout);
      if (this._budgetCache.size > 10_000) this._budgetCache.clear();
      const ttl = allowed === null ? 1000 : this.budgetTtl; // a failure is cached for a second
      this._budgetCache.set(key, { until: Date.now() + ttl, allowed });
      return allowed ?? !failClosed;
    } catch {
      return !failClosed;
    }
  }

  async _askBudget(params, timeoutMs) {
    if (!this.apiKey || this._closed) return null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await this._fetch(`${this.url}/v1/budgets/check?${params}`, {
        headers: { authorization: `Bearer ${this.apiKey}` }, signal: abort.signal,
      });
      if (res.status !== 200) {
        this._warn(`PromptPulse budget check answered ${res.status}`);
        return null;
      }
      return Boolean((await res.json()).allowed);
    } catch (err) {
      this._warn(`PromptPulse budget check failed: ${err?.message ?? err}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Start timing a call; call `.finish()` or `.fail(err)` on the result. */
  start(fields = {}) {
    return new Call((event) => this._putEvent(event), fields);
  }

  /**
   * Time `fn(call)` (sync or async); its errors are recorded, then rethrown unchanged.
   * A returned OpenAI response fills model and tokens.
   */
  track(fields, fn) {
    const call = this.start(fields);
    let result;
    try {
      result = fn(call);
    } catch (err) {
      call.fail(err);
      throw err;
    }
    if (result && typeof result.then === "function") {
      return result.then(
        (value) => { observeResponse(call, value); call.finish(); return value; },
        (err) => { call.fail(err); throw err; },
      );
    }
    observeResponse(call, result);
    call.finish();
    return result;
  }

  /** Feedback on a call (thumbs up/down: 1/0). Returns the score id. */
  /**
   * The unit's variant of an experiment: deterministic and sticky, identical to the Python SDK,
   * computed locally. The exposure is recorded in the background (needs an ingest key).
   */
  assign(experiment, unitId, variants, { record = true } = {}) {
    const chosen = assignVariant(experiment, String(unitId), variants);
    if (record) {
      try {
        this._put(EXPOSURES + experiment, { unit_id: String(unitId), variant: chosen, timestamp: new Date().toISOString() });
      } catch {
        // never fails the caller
      }
    }
    return chosen;
  }

  score(eventId, name, value, options = {}) {
    const id = options.id ?? newId();
    try {
      const item = clean({
        id, event_id: eventId, name, value: Number(value),
        comment: options.comment, source: options.source,
        timestamp: options.timestamp ?? new Date().toISOString(),
        project: this.defaults.project,
      });
      this._put("scores", item);
    } catch {
      // never fails the caller
    }
    return id;
  }

  _putEvent(event) {
    for (const [k, v] of Object.entries(this.defaults)) if (event[k] === undefined) event[k] = v;
    this._put("events", event);
  }

  _put(kind, item) {
    if (!this.enabled) return false;
    if (this._closed || this._queue.length >= this.maxQueue) {
      this.stats.dropped += 1;
      const now = Date.now();
      if (this.stats.dropped === 1 || now - this._lastDropWarning >= DROP_WARNING_EVERY_MS) {
        this._lastDropWarning = now;
        this._warn(`PromptPulse queue is full (${this.maxQueue} items): ${this.stats.dropped} dropped so far`);
      }
      return false;
    }
    this._queue.push([kind, item]);
    this._pending += 1;
    this.stats.queued += 1;
    if (this._queue.length >= this.batchSize) this._kick();
    else if (!this._timer && !this._draining) {
      this._timer = setTimeout(() => { this._timer = null; this._kick(); }, this.flushInterval);
      this._timer.unref?.();
    }
    return true;
  }

  _kick() {
    if (this._timer) { clearTimeout(this._timer); this._timer = null; }
    if (!this._draining) {
      this._draining = this._drain().finally(() => {
        this._draining = null;
        if (this._queue.length) this._kick();
      });
    }
    return this._draining;
  }

  async _drain() {
    while (this._queue.length) {
      const batch = this._queue.splice(0, this.batchSize);
      try {
        const byKind = {};
        for (const [kind, item] of batch) (byKind[kind] ??= []).push(item);
        for (const [kind, items] of Object.entries(byKind)) await this._send(kind, items);
      } catch (err) {
        this.stats.failed += batch.length;
        this._warn("PromptPulse sender failed on a batch", err);
      } finally {
        this._pending -= batch.length;
        this._notify();
      }
    }
  }

  _notify() {
    if (this._pending > 0) return;
    const waiters = this._waiters;
    this._waiters = [];
    for (const resolve of waiters) resolve(true);
  }

  async _post(path, body) {
    const headers = {
      authorization: `Bearer ${this.apiKey}`,
      "content-type": "application/json",
      "user-agent": "promptpulse-js/0.1",
    };
    let payload = body;
    if (body.length >= GZIP_MIN_BYTES) {
      payload = gzipSync(body, { level: 1 });
      headers["content-encoding"] = "gzip";
    }
    try {
      const res = await this._fetch(this.url + path, {
        method: "POST", headers, body: payload, signal: AbortSignal.timeout(this.timeout),
      });
      const text = await res.text();
      let parsed = {};
      try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = {}; }
      if (parsed === null || typeof parsed !== "object") parsed = {};
      return {
        ok: res.ok, status: res.status, body: parsed,
        retryAfter: [429, 503].includes(res.status) ? parseRetryAfter(res.headers.get("retry-after")) : null,
        error: parsed.detail ?? parsed.title ?? `HTTP ${res.status}`,
      };
    } catch (err) {
      return { ok: false, status: null, body: {}, retryAfter: null, error: `${err?.name}: ${err?.message}` };
    }
  }

  async _send(kind, items) {
    const [path, bodyKey] = route(kind);
    const body = Buffer.from(JSON.stringify({ [bodyKey]: items }));
    for (let attempt = 0; ; ) {
      const out = await this._post(path, body);
      if (out.ok) {
        this.stats.batches += 1;
        this.stats.accepted += Number(out.body.accepted ?? 0);
        this.stats.duplicates += Number(out.body.duplicates ?? 0);
        const rejected = out.body.rejected ?? [];
        if (rejected.length) {
          this.stats.rejected += rejected.length;
          this._warn(`PromptPulse rejected ${rejected.length} of ${items.length} ${kind}`, JSON.stringify(rejected[0]));
        }
        return;
      }
      if (out.status === 413 && items.length > 1) {
        const half = items.length >> 1;
        await this._send(kind, items.slice(0, half));
        await this._send(kind, items.slice(half));
        return;
      }
      if (out.status !== null && !RETRYABLE.has(out.status)) {
        this.stats.failed += items.length;
        this.stats.rejected += (out.body.rejected ?? []).length;
        this._warn(`PromptPulse refused ${items.length} ${kind} (HTTP ${out.status}): ${out.error}; not retrying`);
        return;
      }
      const delay = Math.min(out.retryAfter ?? backoff(attempt, this.backoffBase, this.maxBackoff), MAX_RETRY_AFTER_MS);
      if (this._giveUpAt !== null && Date.now() + delay > this._giveUpAt) {
        this.stats.failed += items.length;
        this._warn(`PromptPulse: gave up on ${items.length} ${kind} at shutdown (${out.error})`);
        return;
      }
      attempt += 1;
      this.stats.retries += 1;
      if (attempt === 1 || attempt === 5 || attempt % 20 === 0) {
        this._warn(`PromptPulse send failed (${out.error}); retry ${attempt} in ${Math.round(delay)} ms`);
      }
      await this._sleep(delay);
    }
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      this._wakeSleep = resolve;
      this._sleepTimer = setTimeout(resolve, ms);
      // Retrying must not keep a finished script alive, except while shutting down.
      if (this._giveUpAt === null) this._sleepTimer.unref?.();
    }).finally(() => { this._sleepTimer = null; this._wakeSleep = null; });
  }

  /** Send what is queued now; resolves true when all is handled, false after `timeoutMs`. */
  flush(timeoutMs) {
    if (this._pending === 0) return Promise.resolve(true);
    const done = new Promise((resolve) => this._waiters.push(resolve));
    this._kick();
    if (timeoutMs == null) return done;
    let timer;
    const expired = new Promise((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
    return Promise.race([done, expired]).finally(() => clearTimeout(timer));
  }

  /** Flush for at most `timeoutMs` (default shutdownTimeout), then stop accepting calls. */
  async shutdown(timeoutMs = this.shutdownTimeout) {
    if (this._closed) return;
    this._giveUpAt = Date.now() + timeoutMs;
    this._sleepTimer?.ref?.();
    this._wakeSleep?.();  // retry once now, then back off within the deadline
    await this.flush(timeoutMs + 1000);
    this._closed = true;
    if (this._onBeforeExit) process.off("beforeExit", this._onBeforeExit);
    const left = this._queue.length;
    if (left) {
      this._queue.length = 0;
      this.stats.failed += left;
      this._pending -= left;
      this._notify();
    }
    if (this.stats.dropped || this.stats.failed) {
      this._warn(`PromptPulse closed: ${this.stats.dropped} items dropped (queue full), ${this.stats.failed} not delivered`);
    }
  }

  _exitFlush() {
    if (this._pending === 0 || this._exiting) return;
    this._exiting = true;
    this.shutdown().catch(() => {});
  }
}

// -- reading provider responses ---------------------------------------------------------------

export function openaiUsage(usage) {
  if (!usage) return {};
  const int = (v) => (Number.isInteger(v) && v > 0 ? v : 0);
  const chat = usage.prompt_tokens !== undefined;
  const inDetails = chat ? usage.prompt_tokens_details : usage.input_tokens_details;
  const outDetails = chat ? usage.completion_tokens_details : usage.output_tokens_details;
  return {
    input_tokens: int(chat ? usage.prompt_tokens : usage.input_tokens),
    output_tokens: int(chat ? usage.completion_tokens : usage.output_tokens),
    cached_tokens: int(inDetails?.cached_tokens),
    reasoning_tokens: int(outDetails?.reasoning_tokens),
  };
}

/** Anthropic's usage: its input_tokens exclude the prompt cache (reads and writes). */
export function anthropicUsage(usage) {
  if (!usage) return {};
  const int = (v) => (Number.isInteger(v) && v > 0 ? v : 0);
  const read = int(usage.cache_read_input_tokens);
  const write = int(usage.cache_creation_input_tokens);
  return {
    input_tokens: int(usage.input_tokens) + read + write,
    output_tokens: int(usage.output_tokens),
    cached_tokens: read,
    cache_write_tokens: write,
    reasoning_tokens: int(usage.output_tokens_details?.thinking_tokens),
  };
}

// The served model is `response_model`; `model` stays the one the caller asked for.
function observeResponse(call, response) {
  try {
    if (!response || typeof response !== "object") return;
    if (typeof response.model === "string" && response.model) call.fields.response_model = response.model;
    if (response.type === "message") {
      Object.assign(call.fields, anthropicUsage(response.usage));
      if (response.stop_reason === "refusal") Object.assign(call.fields, { status: "error", error_type: "content_filter" });
      return;
    }
    if (response.usage) Object.assign(call.fields, openaiUsage(response.usage));
    if ((response.choices ?? []).some((c) => c?.finish_reason === "content_filter")) {
      Object.assign(call.fields, { status: "error", error_type: "content_filter" });
    }
  } catch {
    // never fails the caller
  }
}

function proxyStream(stream, call, onItem) {
  async function* observed() {
    try {
      for await (const item of stream) {
        let keep = true;
        try { keep = onItem(item); } catch { keep = true; }
        if (keep) yield item;
      }
    } catch (err) {
      call.fail(err);
      throw err;
    } finally {
      call.finish(); // end, early break or error: recorded once
    }
  }
  return new Proxy(stream, {
    get(target, prop) {
      if (prop === Symbol.asyncIterator) return () => observed();
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const PROVIDER_HOSTS = [
  ["api.openai.com", "openai"], ["openai.azure.com", "azure"], ["api.groq.com", "groq"],
  ["api.together.xyz", "together"], ["openrouter.ai", "openrouter"], ["api.deepseek.com", "deepseek"],
  ["api.mistral.ai", "mistral"], ["api.x.ai", "x-ai"], ["api.fireworks.ai", "fireworks"],
  ["generativelanguage.googleapis.com", "google"],
];

function providerFor(client) {
  let host = "";
  try { host = new URL(String(client?.baseURL ?? "")).hostname.toLowerCase(); } catch { host = ""; }
  for (const [suffix, provider] of PROVIDER_HOSTS) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return provider;
  }
  return "openai";
}

const WRAPPED = Symbol.for("promptpulse.wrapped");

/**
 * Record every `chat.completions.create` of an official `openai` client; returns the same client.
 * Per call, pass `promptpulse: {...}` in the request body options (removed before sending).
 */
export function wrapOpenAI(client, options = {}) {
  const { promptpulse, streamUsage = true, provider, ...fields } = options;
  const completions = client?.chat?.completions;
  if (!completions || completions.create?.[WRAPPED]) return client;
  const original = completions.create.bind(completions);
  const base = toRecord({ provider: provider ?? providerFor(client), ...fields });

  const wrapped = function create(body, requestOptions) {
    let { call, sent } = startWrapped(promptpulse, base, body);
    let hideUsage = false;
    if (call && sent.stream === true && streamUsage && !sent.stream_options?.include_usage) {
      sent = { ...sent, stream_options: { ...(sent.stream_options ?? {}), include_usage: true } };
      hideUsage = true;
    }
    const promise = original(sent, requestOptions);
    if (!call) return promise;
    const stream = sent.stream === true;
    const transform = (result) => {
      if (!stream) {
        observeResponse(call, result);
        call.finish();
        return result;
      }
      return proxyStream(result, call, (chunk) => {
        if (chunk?.model) call.fields.response_model = chunk.model;
        const choices = chunk?.choices ?? [];
        for (const choice of choices) {
          const d = choice?.delta;
          if (d && (d.content || d.tool_calls?.length || d.refusal || d.function_call)) call.firstToken();
          if (choice?.finish_reason === "content_filter") {
            Object.assign(call.fields, { status: "error", error_type: "content_filter" });
          }
        }
        if (chunk?.usage) {
          Object.assign(call.fields, openaiUsage(chunk.usage));
          if (hideUsage && choices.length === 0) return false;
        }
        return true;
      });
    };
    return keepApiPromise(promise, call, transform);
  };
  wrapped[WRAPPED] = true;
  completions.create = wrapped;
  return client;
}

/** The call to record (null when disabled) and the body to send (without `promptpulse`). */
function startWrapped(promptpulse, base, body) {
  let call = null;
  let sent = body;
  try {
    if (body && typeof body === "object" && "promptpulse" in body) {
      const { promptpulse: _perCall, ...rest } = body;
      sent = rest;
    }
    const pp = promptpulse ?? getClient();
    if (pp.enabled && body && typeof body === "object") {
      call = pp.start({ ...base, model: sent.model, ...(body.promptpulse ?? {}) });
    }
  } catch {
    call = null;
  }
  return { call, sent };
}

function keepApiPromise(promise, call, transform) {
  const failed = (err) => { call.fail(err); };
  // Keep the SDK's APIPromise (withResponse(), asResponse()) when it offers a way to.
  if (typeof promise?._thenUnwrap === "function" && promise.responsePromise?.then) {
    promise.responsePromise.then(null, failed);
    return promise._thenUnwrap(transform);
  }
  return Promise.resolve(promise).then(transform, (err) => { failed(err); throw err; });
}

function anthropicProvider(client) {
  const name = client?.constructor?.name ?? "";
  if (name.includes("Bedrock")) return "aws";
  if (name.includes("Vertex")) return "google";
  return "anthropic";
}

/**
 * Record every `messages.create` of an official `@anthropic-ai/sdk` client (JSON or
 * `stream: true`); returns the same client. TTFT on streams is the first content delta; input
 * tokens include the prompt cache (reads → cached_tokens, writes → cache_write_tokens).
 */
export function wrapAnthropic(client, options = {}) {
  const { promptpulse, provider, ...fields } = options;
  const messages = client?.messages;
  if (!messages || messages.create?.[WRAPPED]) return client;
  const original = messages.create.bind(messages);
  const base = toRecord({ provider: provider ?? anthropicProvider(client), ...fields });

  const wrapped = function create(body, requestOptions) {
    const { call, sent } = startWrapped(promptpulse, base, body);
    const promise = original(sent, requestOptions);
    if (!call) return promise;
    const transform = (result) => {
      if (sent.stream !== true) {
        observeResponse(call, result);
        call.finish();
        return result;
      }
      const usage = {}; // message_start has the input side, message_delta the output
      const merge = (u) => { for (const [k, v] of Object.entries(u ?? {})) if (v != null) usage[k] = v; };
      return proxyStream(result, call, (event) => {
        if (event?.type === "message_start") {
          if (event.message?.model) call.fields.response_model = event.message.model;
          merge(event.message?.usage);
        } else if (event?.type === "content_block_delta") {
          call.firstToken();
          return true;
        } else if (event?.type === "message_delta") {
          merge(event.usage);
          if (event.delta?.stop_reason === "refusal") {
            Object.assign(call.fields, { status: "error", error_type: "content_filter" });
          }
        } else {
          return true;
        }
        Object.assign(call.fields, anthropicUsage(usage));
        return true;
      });
    };
    return keepApiPromise(promise, call, transform);
  };
  wrapped[WRAPPED] = true;
  messages.create = wrapped;
  return client;
}

// -- the default client -----------------------------------------------------------------------

let defaultClient = null;

/** Configure the process-wide client used by the wrappers and the module-level helpers. */
export function init(options = {}) {
  const old = defaultClient;
  defaultClient = new PromptPulse(options);
  old?.shutdown().catch(() => {});
  return defaultClient;
}

/** The process-wide client, made from the environment on first use. */
export function getClient() {
  defaultClient ??= new PromptPulse();
  return defaultClient;
}

export function track(fields, fn) {
  return getClient().track(fields, fn);
}

export function score(eventId, name, value, options) {
  return getClient().score(eventId, name, value, options);
}

export function flush(timeoutMs) {
  return getClient().flush(timeoutMs);
}

export default PromptPulse;
