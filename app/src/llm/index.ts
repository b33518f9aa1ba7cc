/** The LLM layer: gateway, providers, price table and error kinds. */
export * from "./types";
export { createLlmGateway, type ApexLlmGateway, type LlmCallEvent, type LlmGatewayOptions, type ProviderRateLimits } from "./gateway";
export { parseModelId, providerNames, type ProviderName, type ModelId } from "./model-id";
export { bundledPriceTable, loadPriceTable, costMicroUsd, microToUsd, type PriceTable, type ModelPrice } from "./prices";
export { countTokens, localModels } from "./providers/local";
export { llmProvidersFromEnv, providerApiKeyEnv } from "./from-env";
export { createModelCheck, modelCheckFor, modelCheckFromEnv, resolveModel, type ModelCatalog, type ModelCheck } from "./model-check";
export { parseRetryAfter } from "./errors";
