/**
 * What the engine needs from an LLM: one completion for a `provider/model` string. Providers
 * (openai, anthropic, local) sit behind the gateway, which applies the circuit breaker, the shared
 * rate limits and the price table. Errors are typed so the engine can decide: retry, reschedule
 * without spending an attempt (breaker open, rate limited), or fail.
 */
import type { CallWorstCase } from "../domain/budget";

export interface LlmRequest {
  /** `provider/model`, e.g. `openai/gpt-4o-mini`, `anthropic/claude-3-5-haiku-latest`, `local/echo`. */
  readonly model: string;
  readonly prompt: string;
  readonly system?: string;
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly signal: AbortSignal;
  /**
   * Sent as `Idempotency-Key` where the provider accepts one (OpenAI-compatible APIs; not
   * Anthropic, whose API has none): the same key for every retry of the same call.
   */
  readonly idempotencyKey?: string;
  /**
   * Called once the breaker and the rate limits let the call through, just before the request
   * goes out, with the most the call can cost (the engine reserves it against the budgets and
   * records the call in flight here). If it throws, nothing is sent and the error is rethrown as is.
   */
  readonly beforeSend?: (worstCase: CallWorstCase) => Promise<void>;
}

export interface LlmUsage {
  /** All prompt tokens, including cached ones (OpenAI's prompt_tokens; Anthropic's input + cache read + cache write). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens served from the provider's cache (a subset of inputTokens). */
  readonly cachedTokens: number;
  /** Prompt tokens written to the cache (Anthropic only; a subset of inputTokens). */
  readonly cacheWriteTokens?: number;
}

/** The provider endpoint a call goes to (OpenTelemetry `server.address` / `server.port`). */
export interface LlmServerEndpoint {
  /** Host name or IP address, without brackets. */
  readonly address: string;
  readonly port: number;
}

export interface LlmResult {
  readonly provider: string;
  /** The provider's id for this response (OpenAI `id`, Anthropic `id`), when it sent one. */
  readonly responseId?: string;
  /** Where the call went: the configured base URL or the SDK's default. Absent for `local`. */
  readonly server?: LlmServerEndpoint;
  /** Model the provider says answered (may differ from the requested one). */
  readonly responseModel: string;
  readonly requestModel: string;
  readonly text: string;
  readonly finishReasons: readonly string[];
  readonly usage: LlmUsage;
  readonly costUsd: number;
  /** The same cost as an integer number of micro-dollars: sum these, not costUsd, to avoid float drift. */
  readonly costMicroUsd?: number;
  /** Price table version used for costUsd. */
  readonly priceVersion: string;
  readonly latencyMs: number;
}

export type LlmErrorKind =
  | "breaker_open" // provider's breaker is open: reschedule, do not spend an attempt
  | "rate_limited" // 429 or our shared limiter: reschedule after retryAfterMs
  | "timeout"
  | "provider_error" // 5xx, connection errors, malformed responses: retryable
  | "invalid_request" // 4xx other than 429, unknown model: not retryable
  | "cancelled";

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly options: {
      readonly retryAfterMs?: number;
      readonly provider?: string;
      /** The endpoint the failed request went to, when it was sent. */
      readonly server?: LlmServerEndpoint;
      /** The HTTP status the provider answered with: set, the provider answered (and did not charge for an error). */
      readonly httpStatus?: number;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "LlmError";
  }
  get retryable(): boolean {
    return this.kind !== "invalid_request" && this.kind !== "cancelled";
  }
}

export interface LlmGateway {
  complete(req: LlmRequest): Promise<LlmResult>;
  /**
   * Providers whose breaker is open now (calls to them would be refused): the worker claims no
   * LLM task of theirs meanwhile. Optional so test doubles need not implement it.
   */
  blockedProviders?(): Promise<readonly string[]>;
}
