/**
 * Anthropic through the official SDK's Messages API. SDK retries are off (the engine owns
 * retries); the engine's AbortSignal is passed through. Anthropic reports cache reads and cache
 * writes outside input_tokens; LlmUsage.inputTokens counts all three so it means the same as
 * OpenAI's prompt_tokens.
 */
import Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { runtimeEnv } from "../../contract/env";
import { mapSdkError, type SdkErrorClasses } from "../errors";
import { LlmError } from "../types";
import { serverEndpointOf } from "./endpoint";
import type { LlmProvider, ProviderRequest, ProviderResponse } from "./provider";

export interface AnthropicProviderOptions {
  readonly apiKey: string;
  /** Default https://api.anthropic.com (the SDK's). */
  readonly baseURL?: string;
  /** Client-side timeout per request. Default 120 000 ms. */
  readonly timeoutMs?: number;
  /** max_tokens is required by the Messages API; used when the request sets none. Default 1024. */
  readonly defaultMaxTokens?: number;
}

const count = z.number().int().nonnegative();
const responseSchema = z.object({
  id: z.string().optional(),
  model: z.string(),
  stop_reason: z.string().nullable(),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
  usage: z.object({
    input_tokens: count,
    output_tokens: count,
    cache_read_input_tokens: count.nullish(),
    cache_creation_input_tokens: count.nullish(),
  }),
});

const sdkErrors: SdkErrorClasses = Anthropic;

export function createAnthropicProvider(opts: AnthropicProviderOptions): LlmProvider {
  if (!opts.apiKey) throw new Error(`anthropic: apiKey is required (${runtimeEnv.anthropicApiKey})`);
  const client = new Anthropic({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 120_000,
  });
  const server = serverEndpointOf("anthropic", client.baseURL);
  const defaultMaxTokens = opts.defaultMaxTokens ?? 1024;

  return {
    name: "anthropic",
    server,
    defaultMaxTokens,
    async complete(req: ProviderRequest): Promise<ProviderResponse> {
      let raw: unknown;
      try {
        raw = await client.messages.create(
          {
            model: req.model,
            max_tokens: req.maxTokens ?? defaultMaxTokens,
            messages: [{ role: "user", content: req.prompt }],
            ...(req.system ? { system: req.system } : {}),
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          },
          // No idempotency key: the Messages API has none (the SDK's idempotencyKey option is documented as having no effect).
          { signal: req.signal },
        );
      } catch (err) {
        throw mapSdkError("anthropic", err, req.signal, sdkErrors, server);
      }
      const parsed = responseSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new LlmError(
          "provider_error",
          `anthropic returned a malformed response: ${issue ? `${issue.path.join(".") || "(body)"}: ${issue.message}` : "unexpected shape"}`,
          { provider: "anthropic", server },
        );
      }
      const body = parsed.data;
      const cacheRead = body.usage.cache_read_input_tokens ?? 0;
      const cacheWrite = body.usage.cache_creation_input_tokens ?? 0;
      return {
        responseId: body.id,
        responseModel: body.model,
        text: body.content
          .filter((block) => block.type === "text")
          .map((block) => block.text ?? "")
          .join(""),
        finishReasons: [body.stop_reason ?? "unknown"],
        usage: {
          inputTokens: body.usage.input_tokens + cacheRead + cacheWrite,
          outputTokens: body.usage.output_tokens,
          cachedTokens: cacheRead,
          cacheWriteTokens: cacheWrite,
        },
      };
    },
  };
}
