/**
 * The most one LLM call can cost, reserved against budgets before it goes out (docs/budgets.md):
 * a bound on its prompt tokens plus its output limit, at the model's dearest input price and its
 * output price, rounded up to the micro-dollar. The real cost (prices.costMicroUsd, rounded half
 * up from the same integer prices) can never be above it while the provider keeps to the bounds.
 *
 * Prompt tokens:
 * - openai: counted with OpenAI's own tokenizer (o200k_base, through gpt-tokenizer), chat framing
 *   included, as the API bills them;
 * - anthropic: no tokenizer of current Claude models exists as a package, so the bound is the UTF-8
 *   byte length plus a framing allowance: a byte-level BPE token covers at least one byte;
 * - local: its own exact rule (countTokens).
 */
import { encodeChat } from "gpt-tokenizer/encoding/o200k_base";
import type { CallWorstCase } from "../domain/budget";
import type { ProviderName } from "./model-id";
import type { ModelPrice } from "./prices";
import { countTokens } from "./providers/local";

/** Tokens the Messages API adds around a system prompt and one user message, at most (an allowance, not a count). */
export const anthropicFramingTokens = 32;

/** Output bound when neither the call, its provider nor the price table gives one. */
export const fallbackMaxOutputTokens = 128_000;

export interface WorstCaseRequest {
  readonly prompt: string;
  readonly system?: string;
}

/** At least as many prompt tokens as the provider will bill for this request. */
export function promptTokenBound(provider: ProviderName, req: WorstCaseRequest): number {
  switch (provider) {
    case "openai": {
      const messages = [
        ...(req.system !== undefined ? [{ role: "system" as const, content: req.system }] : []),
        { role: "user" as const, content: req.prompt },
      ];
      return encodeChat(messages, "gpt-4o").length;
    }
    case "anthropic":
      return Buffer.byteLength(req.system ?? "", "utf8") + Buffer.byteLength(req.prompt, "utf8") + anthropicFramingTokens;
    case "local":
      return countTokens(req.system ?? "") + countTokens(req.prompt);
  }
}

/**
 * The call's worst case. `price` undefined (an unpriced model the gateway was told to allow) costs
 * 0 µ$; its tokens still count.
 */
export function callWorstCase(promptTokens: number, outputTokens: number, price: ModelPrice | undefined): CallWorstCase {
  const tokens = promptTokens + outputTokens;
  if (!price) return { microUsd: 0, tokens };
  // Each input token may be billed at the dearest input rate (a cache write costs more than a plain input token).
  const inputRate = Math.max(price.input, price.cachedInput, price.cacheWrite);
  return { microUsd: Math.ceil((promptTokens * inputRate + outputTokens * price.output) / 1e6), tokens };
}
