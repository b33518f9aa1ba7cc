/**
 * The LLM gateway's observer hooks, turned into metrics: pass `...llmGatewayTelemetry()` into
 * `createLlmGateway` options. Spans for the calls are made by the engine (spans.ts withLlmCallSpan),
 * so the gateway itself stays free of telemetry imports.
 */
import type { BreakerState } from "../coord/types";
import type { LlmCallEvent } from "../llm/gateway";
import { logger } from "./logger";
import { recordBreakerState, recordLlmCall } from "./record";

export interface LlmGatewayTelemetry {
  readonly onCall: (event: LlmCallEvent) => void;
  readonly onBreakerState: (provider: string, state: BreakerState) => void;
  readonly onCoordinationError: (err: unknown) => void;
  readonly onUnpricedModel: (model: string) => void;
}

export function llmGatewayTelemetry(log = logger): LlmGatewayTelemetry {
  return {
    onCall: (event) => recordLlmCall(event),
    onBreakerState: (provider, state) => {
      recordBreakerState(provider, state);
      log.info({ provider, breaker_state: state }, `circuit breaker for ${provider} is ${state}`);
    },
    onCoordinationError: (err) =>
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "coordination store error; LLM gateway failing open"),
    onUnpricedModel: (model) => log.warn({ model }, `model ${model} is not in the price table; cost recorded as 0`),
  };
}
