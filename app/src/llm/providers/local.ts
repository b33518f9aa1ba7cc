/**
 * The deterministic `local` provider for demos and tests: no network, the same prompt always
 * gives the same output and token counts. Models:
 * - `local/echo`: answers with the prompt itself.
 * - `local/summarize`: the first two sentences of the prompt, prefixed "Summary:".
 * Tokens follow one simple rule (`countTokens`): every run of letters/digits is one token, and so
 * is every other non-space character. `maxTokens` (default 4096) truncates the output (finish reason "length").
 */
import { abortableSleep } from "../abortable-sleep";
import { abortedError } from "../errors";
import { LlmError } from "../types";
import type { LlmProvider, ProviderRequest, ProviderResponse } from "./provider";

export interface LocalProviderOptions {
  /** Simulated latency per call in ms (abortable). Default 0. */
  readonly latencyMs?: number;
}

const tokenPattern = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

export function countTokens(text: string): number {
  return text.match(tokenPattern)?.length ?? 0;
}

/** The first `max` tokens of `text`, keeping the original spacing. */
function truncateTokens(text: string, max: number): string {
  let seen = 0;
  for (const m of text.matchAll(tokenPattern)) {
    seen += 1;
    if (seen > max) return text.slice(0, m.index).trimEnd();
  }
  return text;
}

const models: Record<string, (prompt: string) => string> = {
  echo: (prompt) => prompt,
  summarize: (prompt) => {
    const flat = prompt.replace(/\s+/g, " ").trim();
    const sentences = flat.split(/(?<=[.!?])\s+/).filter(Boolean);
    return `Summary: ${sentences.slice(0, 2).join(" ") || "(empty)"}`;
  },
};

export const localModels: readonly string[] = Object.keys(models);

/** The output limit when a request sets none, so a call's worst case is bounded (echo of a long prompt). */
export const localDefaultMaxTokens = 4096;

export function createLocalProvider(opts: LocalProviderOptions = {}): LlmProvider {
  const latencyMs = opts.latencyMs ?? 0;
  return {
    name: "local",
    models: localModels,
    defaultMaxTokens: localDefaultMaxTokens,
    async complete(req: ProviderRequest): Promise<ProviderResponse> {
      const generate = models[req.model];
      if (!generate) {
        throw new LlmError("invalid_request", `local provider has no model "${req.model}" (known: ${localModels.join(", ")})`, {
          provider: "local",
        });
      }
      if (req.signal.aborted) throw abortedError("local", req.signal);
      if (latencyMs > 0) await abortableSleep(latencyMs, req.signal, "local");
      const full = generate(req.prompt);
      const fullTokens = countTokens(full);
      const maxTokens = req.maxTokens ?? localDefaultMaxTokens;
      const truncated = fullTokens > maxTokens;
      const text = truncated ? truncateTokens(full, maxTokens) : full;
      return {
        responseModel: req.model,
        text,
        finishReasons: [truncated ? "length" : "stop"],
        usage: {
          inputTokens: countTokens(req.system ?? "") + countTokens(req.prompt),
          outputTokens: countTokens(text),
          cachedTokens: 0,
        },
      };
    },
  };
}
