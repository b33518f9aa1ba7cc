/** What the gateway needs from one provider: a single non-streaming completion, errors already mapped to LlmError. */
import type { LlmServerEndpoint, LlmUsage } from "../types";

export interface ProviderRequest {
  /** Model name without the provider prefix, e.g. `gpt-4o-mini`. */
  readonly model: string;
  readonly prompt: string;
  readonly system?: string;
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly signal: AbortSignal;
  /** Sent where the provider's API accepts one (see LlmRequest.idempotencyKey). */
  readonly idempotencyKey?: string;
}

export interface ProviderResponse {
  /** The provider's response id, when it sent one. */
  readonly responseId?: string;
  readonly responseModel: string;
  readonly text: string;
  readonly finishReasons: readonly string[];
  readonly usage: LlmUsage;
}

export interface LlmProvider {
  readonly name: string;
  /** The endpoint its requests go to; absent when it makes none (local). */
  readonly server?: LlmServerEndpoint;
  /** The output limit it sends when a request sets none (its responses never exceed it). */
  readonly defaultMaxTokens?: number;
  /** Set when the provider has a fixed set of models (local): others are rejected before any call. */
  readonly models?: readonly string[];
  /** Throws LlmError only. */
  complete(req: ProviderRequest): Promise<ProviderResponse>;
}
