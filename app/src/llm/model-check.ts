/**
 * Whether a `provider/model` can be called, and if not, why: the one rule the gateway applies
 * before every call and the API applies to every LLM task at submission, so a DAG that cannot run
 * is refused with a 400 instead of failing on a worker later.
 *
 * A model can be called when its provider is enabled, the provider has the model (`local` has a
 * fixed list; for `openai` and `anthropic` the price table is the list), and the price table
 * prices it (exact name, alias, or a dated / `-latest` name of a priced model), unless the gateway
 * allows unpriced models: every call must be metered.
 */
import { configuredProviders, type ProviderSettings } from "./configured-providers";
import { llmProvidersFromEnv, providerApiKeyEnv } from "./from-env";
import { parseModelId, providerNames, type ModelId, type ProviderName } from "./model-id";
import { bundledPriceTable, type ModelPrice, type PriceTable } from "./prices";
import type { LlmProvider } from "./providers/provider";

export interface ModelCheck {
  /** Undefined when `model` can be called, else why not, naming what is configured. */
  checkModel(model: string): string | undefined;
}

export interface ModelCatalog {
  /** The enabled providers, with their fixed model lists where they have one. */
  readonly providers: ReadonlyMap<ProviderName, Pick<LlmProvider, "models">>;
  readonly prices: PriceTable;
  readonly allowUnpricedModels?: boolean;
}

export type ResolvedModel = { readonly id: ModelId; readonly price?: ModelPrice } | { readonly error: string };

export function resolveModel(model: string, catalog: ModelCatalog): ResolvedModel {
  const id = parseModelId(model);
  if ("error" in id) return id;
  const enabled = `enabled providers: ${providerNames.filter((p) => catalog.providers.has(p)).join(", ") || "none"}`;
  const provider = catalog.providers.get(id.provider);
  if (!provider) {
    const keyEnv = (providerApiKeyEnv as Partial<Record<ProviderName, string>>)[id.provider];
    const why = keyEnv ? `is not configured (set ${keyEnv})` : "is disabled in this runtime";
    return { error: `provider "${id.provider}" ${why}; ${enabled}` };
  }
  if (provider.models && !provider.models.includes(id.model)) {
    return { error: `provider "${id.provider}" has no model "${id.model}" (known: ${provider.models.join(", ")}); ${enabled}` };
  }
  const price = catalog.prices.lookup(model);
  if (!price && !catalog.allowUnpricedModels) {
    const priced = catalog.prices.models.filter((m) => m.startsWith(`${id.provider}/`)).map((m) => m.slice(id.provider.length + 1));
    return {
      error:
        `model "${model}" has no price in price table ${catalog.prices.version}, and a call that cannot be metered is refused ` +
        `(priced ${id.provider} models: ${priced.join(", ") || "none"}); add it to the table to use it`,
    };
  }
  return price ? { id, price } : { id };
}

export function createModelCheck(catalog: ModelCatalog): ModelCheck {
  return {
    checkModel(model) {
      const resolved = resolveModel(model, catalog);
      return "error" in resolved ? resolved.error : undefined;
    },
  };
}

/** The check for gateway settings, without creating a gateway. */
export function modelCheckFor(settings: ProviderSettings & Pick<ModelCatalog, "allowUnpricedModels"> & { readonly prices?: PriceTable }): ModelCheck {
  return createModelCheck({
    providers: configuredProviders(settings),
    prices: settings.prices ?? bundledPriceTable,
    allowUnpricedModels: settings.allowUnpricedModels,
  });
}

/**
 * The check from an environment, as the runtime builds its gateway from the same variables
 * (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...): apex-api and apex-worker given the same env agree
 * on what a DAG may use, even as separate processes.
 */
export function modelCheckFromEnv(env: NodeJS.ProcessEnv = process.env): ModelCheck {
  return modelCheckFor(llmProvidersFromEnv(env));
}
