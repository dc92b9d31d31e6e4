// Types for the PromptPulse JS client (index.js).

export type ErrorType =
  | "timeout" | "rate_limit" | "validation" | "content_filter"
  | "llm_error" | "network" | "system" | "other";

export declare const ERROR_TYPES: readonly ErrorType[];

/** Call-record fields (DESIGN.md "The call record"); camelCase spellings are accepted too. */
export interface CallFields {
  id?: string;
  timestamp?: string;
  project?: string;
  model?: string;
  provider?: string;
  prompt_id?: string; promptId?: string;
  prompt_version?: string; promptVersion?: string;
  environment?: string;
  feature?: string;
  user_id?: string; userId?: string;
  session_id?: string; sessionId?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  status?: "success" | "error";
  error_type?: ErrorType; errorType?: ErrorType;
  error_message?: string; errorMessage?: string;
  http_status?: number; httpStatus?: number;
  latency_ms?: number; latencyMs?: number;
  ttft_ms?: number; ttftMs?: number;
  queue_ms?: number; queueMs?: number;
  input_tokens?: number; inputTokens?: number;
  output_tokens?: number; outputTokens?: number;
  cached_tokens?: number; cachedTokens?: number;
  cache_write_tokens?: number; cacheWriteTokens?: number;
  response_model?: string; responseModel?: string;
  reasoning_tokens?: number; reasoningTokens?: number;
  cost_usd?: number; costUsd?: number;
  cache_hit?: boolean; cacheHit?: boolean;
  retries?: number;
}

export interface PromptPulseOptions {
  /** Default: PROMPTPULSE_URL, else http://127.0.0.1:8000 */
  url?: string;
  /** Default: PROMPTPULSE_API_KEY; without a key nothing is recorded (one warning). */
  apiKey?: string;
  /** Items per request (default 100). */
  batchSize?: number;
  /** Longest wait before a partial batch is sent, ms (default 1000). */
  flushInterval?: number;
  /** Queue bound; beyond it new items are dropped, counted and warned about (default 10000). */
  maxQueue?: number;
  /** Per-request timeout, ms (default 10000). */
  timeout?: number;
  /** First backoff step, ms (default 500); doubles per retry with full jitter. */
  backoffBase?: number;
  /** Backoff cap, ms (default 30000). */
  maxBackoff?: number;
  /** How long the exit flush may take, ms (default 5000). */
  shutdownTimeout?: number;
  /** Fields put on every call, e.g. { environment: "prod" }. */
  defaults?: CallFields;
  /** Where warnings go (default console); null for silence. */
  logger?: { warn(...args: unknown[]): void } | null;
  /** Custom fetch (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** budgetOk: how long an answer is cached, ms (default 5000). */
  budgetTtl?: number;
  /** budgetOk: how long a check may wait for the server, ms (default 250). */
  budgetTimeout?: number;
  /** false: record nothing. */
  enabled?: boolean;
}

export interface Stats {
  queued: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  dropped: number;
  failed: number;
  retries: number;
  batches: number;
}

export declare class Call {
  readonly id: string;
  fields: Record<string, unknown>;
  set(fields: CallFields): this;
  /** Mark the first token now (TTFT). */
  firstToken(): void;
  /** Record the call as failed with the error's type, then send it. */
  fail(err: unknown): void;
  /** Send the call (once). */
  finish(): void;
}

export interface ScoreOptions {
  id?: string;
  comment?: string;
  source?: "user" | "eval" | "human";
  timestamp?: string;
}

export declare class PromptPulse {
  constructor(options?: PromptPulseOptions);
  readonly url: string;
  readonly enabled: boolean;
  readonly stats: Stats;
  /** Record a finished call; returns its id. Never throws. */
  record(fields: CallFields): string;
  /** Start timing a call by hand. */
  start(fields?: CallFields): Call;
  /** Time fn(call), sync or async; errors are recorded and rethrown unchanged. */
  track<T>(fields: CallFields, fn: (call: Call) => T): T;
  /** Feedback on a call (thumbs up/down: 1/0); returns the score id. */
  score(eventId: string, name: string, value: number | boolean, options?: ScoreOptions): string;
  /** Whether a call with these attributes may go ahead (GET /v1/budgets/check); cached, fails open. */
  budgetOk(
    attributes?: Record<string, unknown>,
    options?: { mode?: "spent" | "projected"; failClosed?: boolean; timeout?: number },
  ): Promise<boolean>;
  /** Sticky, deterministic variant (same as the Python SDK); records the exposure. */
  assign(
    experiment: string,
    unitId: string,
    variants: string[] | Record<string, number> | Array<[string, number]>,
    options?: { record?: boolean },
  ): string;
  /** Send what is queued; true when everything was handled, false after timeoutMs. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flush (at most timeoutMs, default shutdownTimeout), then stop accepting calls. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface WrapOpenAIOptions extends CallFields {
  /** The PromptPulse client to record with (default: the process-wide one). */
  promptpulse?: PromptPulse;
  /** Ask streams for usage and hide the added usage chunk again (default true). */
  streamUsage?: boolean;
}

/**
 * Record every `chat.completions.create` of an official `openai` client; returns the same client.
 * Per call, add `promptpulse: {...}` (call-record fields) to the request body; it is not sent.
 */
export declare function wrapOpenAI<C>(client: C, options?: WrapOpenAIOptions): C;

export interface WrapAnthropicOptions extends CallFields {
  /** The PromptPulse client to record with (default: the process-wide one). */
  promptpulse?: PromptPulse;
}

/**
 * Record every `messages.create` of an official `@anthropic-ai/sdk` client (JSON or stream);
 * returns the same client. Per call, add `promptpulse: {...}` to the request body; it is not sent.
 */
export declare function wrapAnthropic<C>(client: C, options?: WrapAnthropicOptions): C;

export declare function init(options?: PromptPulseOptions): PromptPulse;
export declare function getClient(): PromptPulse;
export declare function track<T>(fields: CallFields, fn: (call: Call) => T): T;
export declare function score(eventId: string, name: string, value: number | boolean, options?: ScoreOptions): string;
export declare function flush(timeoutMs?: number): Promise<boolean>;

export declare function classify(err: unknown): [ErrorType, number | null];
export declare function parseRetryAfter(value: string | null | undefined): number | null;
export declare function backoff(attempt: number, baseMs: number, capMs: number): number;
export declare function newId(): string;
export declare function toRecord(fields: CallFields): Record<string, unknown>;
export declare function openaiUsage(usage: unknown): {
  input_tokens?: number; output_tokens?: number; cached_tokens?: number; reasoning_tokens?: number;
};
export declare function anthropicUsage(usage: unknown): {
  input_tokens?: number; output_tokens?: number; cached_tokens?: number;
  cache_write_tokens?: number; reasoning_tokens?: number;
};

export default PromptPulse;
