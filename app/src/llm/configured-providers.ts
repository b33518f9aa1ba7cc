/**
 * The providers one gateway configuration yields: `openai` and `anthropic` when given credentials,
 * `local` unless disabled, then any replacements. The gateway calls them; the submission check
 * (model-check.ts) asks the same map which providers are enabled and which models they have.
 */
import { defaultLlmRequestTimeoutMs } from "../contract/worker-drain";
import type { LlmGatewayOptions } from "./gateway";
import type { ProviderName } from "./model-id";
import { createAnthropicProvider } from "./providers/anthropic";
import { createLocalProvider } from "./providers/local";
import { createOpenAiProvider } from "./providers/openai";
import type { LlmProvider } from "./providers/provider";

export type ProviderSettings = Pick<LlmGatewayOptions, "openai" | "anthropic" | "local" | "providers">;

/** Default client timeout of each provider request (the worker's drain is derived from it). */
export const defaultRequestTimeoutMs = defaultLlmRequestTimeoutMs;

/** Creating a provider makes no request: the SDK clients connect on their first call. */
export function configuredProviders(settings: ProviderSettings, timeoutMs = defaultRequestTimeoutMs): Map<ProviderName, LlmProvider> {
  const providers = new Map<ProviderName, LlmProvider>();
  if (settings.openai) providers.set("openai", createOpenAiProvider({ ...settings.openai, timeoutMs }));
  if (settings.anthropic) providers.set("anthropic", createAnthropicProvider({ ...settings.anthropic, timeoutMs }));
  if (settings.local !== false) providers.set("local", createLocalProvider(settings.local ?? {}));
  for (const [name, provider] of Object.entries(settings.providers ?? {}) as [ProviderName, LlmProvider][]) {
    providers.set(name, provider);
  }
  return providers;
}
