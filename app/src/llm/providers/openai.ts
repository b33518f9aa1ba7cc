/**
 * OpenAI through the official SDK's Chat Completions API. SDK retries are off (the engine owns
 * retries); the engine's AbortSignal is passed through; the response is checked with zod so a
 * malformed body becomes provider_error rather than a crash further down.
 */
import OpenAI from "openai";
import { z } from "zod";
import { runtimeEnv } from "../../contract/env";
import { mapSdkError, type SdkErrorClasses } from "../errors";
import { LlmError } from "../types";
import { serverEndpointOf } from "./endpoint";
import type { LlmProvider, ProviderRequest, ProviderResponse } from "./provider";

export interface OpenAiProviderOptions {
  readonly apiKey: string;
  /** Default https://api.openai.com/v1 (the SDK's). Any OpenAI-compatible endpoint works. */
  readonly baseURL?: string;
  /** Client-side timeout per request. Default 120 000 ms. */
  readonly timeoutMs?: number;
}

const responseSchema = z.object({
  id: z.string().optional(),
  model: z.string(),
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullable(),
        message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }),
      }),
    )
    .min(1),
  usage: z.object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().optional() }).nullish(),
  }),
});

const sdkErrors: SdkErrorClasses = OpenAI;

export function createOpenAiProvider(opts: OpenAiProviderOptions): LlmProvider {
  if (!opts.apiKey) throw new Error(`openai: apiKey is required (${runtimeEnv.openaiApiKey})`);
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 120_000,
  });
  const server = serverEndpointOf("openai", client.baseURL);

  return {
    name: "openai",
    server,
    async complete(req: ProviderRequest): Promise<ProviderResponse> {
      let raw: unknown;
      try {
        raw = await client.chat.completions.create(
          {
            model: req.model,
            messages: [
              ...(req.system ? [{ role: "system" as const, content: req.system }] : []),
              { role: "user" as const, content: req.prompt },
            ],
            ...(req.maxTokens !== undefined ? { max_completion_tokens: req.maxTokens } : {}),
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          },
          // The SDK's own idempotencyKey option sends nothing for OpenAI (no idempotency header is set
          // on its client): the header goes explicitly. OpenAI-compatible gateways deduplicate on it.
          { signal: req.signal, ...(req.idempotencyKey ? { headers: { "Idempotency-Key": req.idempotencyKey } } : {}) },
        );
      } catch (err) {
        throw mapSdkError("openai", err, req.signal, sdkErrors, server);
      }
      const parsed = responseSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new LlmError(
          "provider_error",
          `openai returned a malformed response: ${issue ? `${issue.path.join(".") || "(body)"}: ${issue.message}` : "unexpected shape"}`,
          { provider: "openai", server },
        );
      }
      const body = parsed.data;
      const first = body.choices[0];
      const cached = body.usage.prompt_tokens_details?.cached_tokens ?? 0;
      return {
        responseId: body.id,
        responseModel: body.model,
        text: first?.message.content ?? first?.message.refusal ?? "",
        finishReasons: body.choices.map((c) => c.finish_reason ?? "unknown"),
        usage: {
          inputTokens: body.usage.prompt_tokens,
          outputTokens: body.usage.completion_tokens,
          cachedTokens: Math.min(cached, body.usage.prompt_tokens),
        },
      };
    },
  };
}
