/**
 * Provider settings from the runtime's environment (names from the shared contract): a provider
 * is configured when its API key is set and non-empty. The key is passed to the SDK only; it is
 * never logged or echoed in errors.
 */
import { runtimeEnv } from "../contract/env";
import type { LlmGatewayOptions } from "./gateway";
import type { ProviderName } from "./model-id";

/** The variable that enables each provider needing credentials (`local` needs none). */
export const providerApiKeyEnv = {
  openai: runtimeEnv.openaiApiKey,
  anthropic: runtimeEnv.anthropicApiKey,
} as const satisfies Partial<Record<ProviderName, string>>;

export function llmProvidersFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<LlmGatewayOptions, "openai" | "anthropic"> {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const baseUrl = (name: string) => {
    const v = value(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      throw new Error(`${name} must be an http(s) URL, got "${v}"`);
    }
    return v;
  };
  const openaiKey = value(providerApiKeyEnv.openai);
  const anthropicKey = value(providerApiKeyEnv.anthropic);
  return {
    ...(openaiKey ? { openai: { apiKey: openaiKey, baseURL: baseUrl(runtimeEnv.openaiBaseUrl) } } : {}),
    ...(anthropicKey ? { anthropic: { apiKey: anthropicKey, baseURL: baseUrl(runtimeEnv.anthropicBaseUrl) } } : {}),
  };
}
