/** `provider/model` strings, as DAG tasks name models. */
export const providerNames = ["openai", "anthropic", "local"] as const;
export type ProviderName = (typeof providerNames)[number];

export interface ModelId {
  readonly provider: ProviderName;
  /** The model as the provider names it, e.g. `gpt-4o-mini`. */
  readonly model: string;
}

/** Parses `provider/model`; returns an error message naming the problem instead of throwing. */
export function parseModelId(value: string): ModelId | { readonly error: string } {
  const slash = value.indexOf("/");
  if (slash <= 0 || slash === value.length - 1) {
    return { error: `model must be "provider/model" (e.g. openai/gpt-4o-mini), got "${value}"` };
  }
  const provider = value.slice(0, slash);
  const model = value.slice(slash + 1);
  if (!(providerNames as readonly string[]).includes(provider)) {
    return { error: `unknown provider "${provider}" in model "${value}" (known: ${providerNames.join(", ")})` };
  }
  if (/\s/.test(model)) return { error: `model name must not contain whitespace, got "${value}"` };
  return { provider: provider as ProviderName, model };
}
