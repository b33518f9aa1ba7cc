/**
 * The LLM gateway the engine calls: resolves `provider/model`, applies the shared circuit breaker
 * and rate limits (through Coordination, so all replicas agree), calls the provider, and prices
 * the usage from the versioned price table. Telemetry observes it through `onCall` and
 * `onBreakerState` instead of being imported here.
 *
 * Breaker accounting: provider_error and timeout are failures; invalid_request is a success (the
 * provider answered); rate_limited (429) and cancelled say nothing about health and only free a
 * half_open probe slot. A Coordination (Redis) error never blocks a call: the gateway fails open
 * and reports it through `onCoordinationError`.
 */
import { randomUUID } from "node:crypto";
import { validateBreakerPolicy } from "../coord/breaker-machine";
import { defaultBreakerPolicy, type BreakerAdmission, type BreakerPolicy, type BreakerState, type Coordination, type RateLimit } from "../coord/types";
import { abortableSleep } from "./abortable-sleep";
import { abortedError } from "./errors";
import { configuredProviders, defaultRequestTimeoutMs } from "./configured-providers";
import { createModelCheck, resolveModel } from "./model-check";
import { providerNames, type ProviderName } from "./model-id";
import { bundledPriceTable, costMicroUsd, microToUsd, type PriceTable } from "./prices";
import { countTokens } from "./providers/local";
import type { LlmProvider } from "./providers/provider";
import { callWorstCase, fallbackMaxOutputTokens, promptTokenBound } from "./worst-case";
import type { CallWorstCase } from "../domain/budget";
import { LlmError, type LlmErrorKind, type LlmGateway, type LlmRequest, type LlmResult, type LlmUsage } from "./types";

/** How often a call waiting for a breaker slot asks again, and the retry hint when it gave up waiting. */
const slotPollMs = 50;
const slotRetryMs = 250;

export interface ProviderRateLimits {
  /** Requests per minute across all replicas. */
  readonly requestsPerMinute?: number;
  /** Tokens (input + output) per minute across all replicas; estimated before the call, settled after. */
  readonly tokensPerMinute?: number;
}

/** One gateway call, as telemetry sees it. Emitted for every call, including ones rejected before reaching the provider. */
export interface LlmCallEvent {
  readonly provider: string;
  /** `provider/model` as requested. */
  readonly model: string;
  readonly responseModel?: string;
  readonly outcome: "success" | LlmErrorKind;
  /** False when the breaker or the rate limiter rejected the call before any provider request. */
  readonly providerCalled: boolean;
  readonly latencyMs: number;
  readonly usage?: LlmUsage;
  readonly costUsd?: number;
  readonly costMicroUsd?: number;
  readonly priceVersion: string;
  readonly error?: LlmError;
}

export interface LlmGatewayOptions {
  readonly coordination: Coordination;
  readonly openai?: { readonly apiKey: string; readonly baseURL?: string };
  readonly anthropic?: { readonly apiKey: string; readonly baseURL?: string };
  /** The deterministic local provider: on by default; `false` disables it. */
  readonly local?: { readonly latencyMs?: number } | false;
  /** Breaker policy for every provider (default `defaultBreakerPolicy`: 5 failures, 30 s cool-down). */
  readonly breaker?: Partial<BreakerPolicy>;
  readonly rateLimits?: Partial<Record<ProviderName, ProviderRateLimits>>;
  /** Default: the bundled table (app/src/llm/prices/price-table.json). */
  readonly prices?: PriceTable;
  /** Call models the price table does not list (cost 0, `unpriced` in the warning hook). Default false: invalid_request. */
  readonly allowUnpricedModels?: boolean;
  /** Client timeout of each provider request (the engine's AbortSignal usually fires first). Default 120 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Wait in-process for the shared rate limiter up to this long before giving up with rate_limited. Default 1000 ms. */
  readonly maxRateLimitWaitMs?: number;
  /**
   * Wait in-process up to this long for a free breaker slot (after a failure, calls in flight fill
   * the failure budget) before giving up with breaker_open (the task then waits without an attempt). Default 10 000 ms.
   */
  readonly maxSlotWaitMs?: number;
  /** Output tokens assumed for the tokens-per-minute estimate when the request sets no maxTokens. Default 512. */
  readonly assumedOutputTokens?: number;
  readonly now?: () => number;
  readonly onCall?: (event: LlmCallEvent) => void;
  /** Called whenever this gateway observes a provider's breaker in a new state (first observation included). */
  readonly onBreakerState?: (provider: string, state: BreakerState) => void;
  readonly onCoordinationError?: (err: unknown) => void;
  /** After a coordination error, run without breaker and limits for this long before trying Redis again. Default 5000 ms. */
  readonly coordinationBackoffMs?: number;
  /** Called when a model missing from the price table is used with allowUnpricedModels. */
  readonly onUnpricedModel?: (model: string) => void;
  /** Replaces built-in providers (tests, or another OpenAI-compatible vendor). */
  readonly providers?: Partial<Record<ProviderName, LlmProvider>>;
}

export interface ApexLlmGateway extends LlmGateway {
  /** Providers this gateway can call (configured ones). */
  readonly providers: readonly ProviderName[];
  /** Undefined when `model` can be called, else why not: for validating DAGs at submission. */
  checkModel(model: string): string | undefined;
  /** Current shared breaker state of a provider (for the breaker gauge's collect callback). */
  breakerState(provider: ProviderName): Promise<BreakerState>;
  /** The most `req` can cost (what beforeSend is given), or undefined when its model cannot be called. */
  worstCase(req: Pick<LlmRequest, "model" | "prompt" | "system" | "maxTokens">): CallWorstCase | undefined;
  readonly priceVersion: string;
}

export function createLlmGateway(opts: LlmGatewayOptions): ApexLlmGateway {
  const now = opts.now ?? Date.now;
  const prices = opts.prices ?? bundledPriceTable;
  const policy: BreakerPolicy = validateBreakerPolicy({ ...defaultBreakerPolicy, ...opts.breaker });
  const maxWait = opts.maxRateLimitWaitMs ?? 1_000;
  const maxSlotWait = opts.maxSlotWaitMs ?? 10_000;
  const assumedOutput = opts.assumedOutputTokens ?? 512;
  const providers = configuredProviders(opts, opts.requestTimeoutMs ?? defaultRequestTimeoutMs);
  const rateLimits = validateRateLimits(opts.rateLimits ?? {});

  const safely = <A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A) => {
    try {
      fn?.(...args);
    } catch {
      // an observer's bug must not fail the call
    }
  };
  const lastState = new Map<string, BreakerState>();
  const observeState = (provider: string, state: BreakerState) => {
    if (lastState.get(provider) === state) return;
    lastState.set(provider, state);
    safely(opts.onBreakerState, provider, state);
  };
  /**
   * Coordination calls fail open: Redis trouble must not stop LLM calls. After an error the
   * gateway skips coordination for coordinationBackoffMs, so an outage does not add a command
   * timeout to every call.
   */
  const backoffMs = opts.coordinationBackoffMs ?? 5_000;
  let coordinationDownUntil = 0;
  const coord = async <T>(fallback: T, fn: () => Promise<T>): Promise<T> => {
    if (now() < coordinationDownUntil) return fallback;
    try {
      return await fn();
    } catch (err) {
      coordinationDownUntil = now() + backoffMs;
      safely(opts.onCoordinationError, err);
      return fallback;
    }
  };
  const breakerKey = (provider: string) => `llm:${provider}`;

  const catalog = { providers, prices, allowUnpricedModels: opts.allowUnpricedModels };
  const resolve = (model: string) => resolveModel(model, catalog);
  const { checkModel } = createModelCheck(catalog);

  /** Takes one request and `estimate` tokens from the provider's buckets, waiting up to maxWait; else throws rate_limited. */
  const takeRateLimit = async (provider: ProviderName, estimate: number, signal: AbortSignal): Promise<void> => {
    const { rpm, tpm } = rateLimits[provider] ?? {};
    if (!rpm && !tpm) return;
    const limiter = opts.coordination.rateLimiter;
    const deadline = now() + maxWait;
    for (;;) {
      let waitMs = 0;
      if (rpm) waitMs = await coord(0, () => limiter.take(`llm:${provider}:rpm`, 1, rpm));
      if (waitMs === 0 && tpm) {
        waitMs = await coord(0, () => limiter.take(`llm:${provider}:tpm`, estimate, tpm));
        // the request unit was taken but this call is not going out now: give it back
        if (waitMs > 0 && rpm) await coord(undefined, () => limiter.adjust(`llm:${provider}:rpm`, -1, rpm));
      }
      if (waitMs === 0) return;
      if (now() + waitMs > deadline) {
        throw new LlmError("rate_limited", `shared rate limit of ${provider} reached; retry in ${waitMs} ms`, {
          provider,
          retryAfterMs: waitMs,
        });
      }
      await abortableSleep(waitMs, signal, provider);
    }
  };

  /**
   * Admits one call through the provider's breaker. While closed with no free slot (after a
   * failure, calls in flight fill the failure budget) it waits in-process for one, up to maxSlotWaitMs; open (or a
   * probe already out) refuses at once. Coordination trouble admits (fail open).
   */
  const admitCall = async (
    provider: ProviderName,
    callId: string,
    signal: AbortSignal,
  ): Promise<{ kind: "admitted" | "probe" } | { kind: "refused"; state: BreakerState }> => {
    const key = breakerKey(provider);
    const breakers = opts.coordination.breakers;
    const deadline = now() + maxSlotWait;
    for (;;) {
      const admission = await coord<BreakerAdmission>("admitted", () => breakers.admitCall(key, callId, policy));
      if (admission !== "refused") return { kind: admission };
      const state = await coord<BreakerState>("open", () => breakers.state(key, policy));
      observeState(provider, state);
      if (state !== "closed" || now() + slotPollMs > deadline) return { kind: "refused", state };
      await abortableSleep(slotPollMs, signal, provider);
    }
  };

  const worstCase = (req: Pick<LlmRequest, "model" | "prompt" | "system" | "maxTokens">): CallWorstCase | undefined => {
    const resolved = resolve(req.model);
    if (!("id" in resolved)) return undefined;
    const outputTokens = req.maxTokens ?? providers.get(resolved.id.provider)?.defaultMaxTokens ?? resolved.price?.maxOutput ?? fallbackMaxOutputTokens;
    return callWorstCase(promptTokenBound(resolved.id.provider, req), outputTokens, resolved.price);
  };

  const gateway: ApexLlmGateway = {
    providers: providerNames.filter((p) => providers.has(p)),
    priceVersion: prices.version,
    checkModel,
    worstCase,
    breakerState: async (provider) => {
      const state = await opts.coordination.breakers.state(breakerKey(provider), policy);
      observeState(provider, state);
      return state;
    },
    // Only providers last seen open are asked again (one coordination call each), so a healthy
    // cluster pays nothing for this on every claim.
    blockedProviders: async () => {
      const blocked: string[] = [];
      for (const [provider, seen] of lastState) {
        if (seen !== "open") continue;
        const state = await coord<BreakerState>("closed", () => opts.coordination.breakers.state(breakerKey(provider), policy));
        observeState(provider, state);
        if (state === "open") blocked.push(provider);
      }
      return blocked;
    },

    async complete(req: LlmRequest): Promise<LlmResult> {
      const resolved = resolve(req.model);
      const providerName = "id" in resolved ? resolved.id.provider : req.model.split("/")[0] ?? "unknown";
      // Latency in events is the provider round trip only (0 when the call never left), so the
      // latency histogram measures providers, not our breaker and limiter.
      let callStarted: number | undefined = undefined;
      let callEnded: number | undefined;
      const emit = (event: Omit<LlmCallEvent, "provider" | "model" | "priceVersion" | "latencyMs">) =>
        safely(opts.onCall, {
          provider: providerName,
          model: req.model,
          priceVersion: prices.version,
          latencyMs: callStarted === undefined ? 0 : (callEnded ?? now()) - callStarted,
          ...event,
        });
      const reject = (error: LlmError, providerCalled = false): never => {
        emit({ outcome: error.kind, providerCalled, error });
        throw error;
      };

      if ("error" in resolved) return reject(new LlmError("invalid_request", resolved.error, { provider: providerName }));
      const { id, price } = resolved;
      const provider = providers.get(id.provider)!;
      if (req.signal.aborted) return reject(abortedError(id.provider, req.signal));
      if (!price) safely(opts.onUnpricedModel, req.model);

      const key = breakerKey(id.provider);
      const breakers = opts.coordination.breakers;
      const callId = randomUUID();
      const admission = await admitCall(id.provider, callId, req.signal).catch((err: unknown) =>
        reject(err instanceof LlmError ? err : abortedError(id.provider, req.signal, err)),
      );
      if (admission.kind === "refused") {
        return reject(
          new LlmError(
            "breaker_open",
            admission.state === "closed"
              ? `circuit breaker for ${id.provider} has no free slot (calls in flight fill its failure budget)`
              : `circuit breaker for ${id.provider} is open`,
            { provider: id.provider, retryAfterMs: admission.state === "closed" ? slotRetryMs : Math.min(policy.cooldownMs, 5_000) },
          ),
        );
      }
      // The half_open probe has its own short time limit: a hanging provider cannot hold recovery.
      const signal = admission.kind === "probe" ? AbortSignal.any([req.signal, AbortSignal.timeout(policy.probeTimeoutMs)]) : req.signal;

      const estimate = countTokens(req.system ?? "") + countTokens(req.prompt) + (req.maxTokens ?? assumedOutput);
      try {
        await takeRateLimit(id.provider, estimate, req.signal);
      } catch (err) {
        await coord(undefined, () => breakers.release(key, policy, callId));
        return reject(err instanceof LlmError ? err : abortedError(id.provider, req.signal, err));
      }

      const refundTokens = async () => {
        const tpm = rateLimits[id.provider]?.tpm;
        if (tpm) await coord(undefined, () => opts.coordination.rateLimiter.adjust(`llm:${id.provider}:tpm`, -estimate, tpm));
      };
      if (req.beforeSend) {
        try {
          await req.beforeSend(worstCase(req)!);
        } catch (err) {
          await coord(undefined, () => breakers.release(key, policy, callId));
          await refundTokens();
          emit({ outcome: "cancelled", providerCalled: false, error: new LlmError("cancelled", String(err), { provider: id.provider, cause: err }) });
          throw err;
        }
      }

      callStarted = now();
      let response;
      try {
        response = await provider.complete({
          model: id.model,
          prompt: req.prompt,
          system: req.system,
          maxTokens: req.maxTokens,
          temperature: req.temperature,
          signal,
          ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
        });
      } catch (err) {
        callEnded = now();
        const error = err instanceof LlmError ? err : new LlmError("provider_error", String(err), { provider: id.provider, server: provider.server, cause: err });
        const after = await coord<BreakerState | undefined>(undefined, () => {
          if (error.kind === "provider_error" || error.kind === "timeout") return breakers.recordFailure(key, policy, callId);
          if (error.kind === "invalid_request") return breakers.recordSuccess(key, policy, callId);
          return breakers.release(key, policy, callId);
        });
        if (after) observeState(id.provider, after);
        await refundTokens();
        return reject(error, true);
      }
      callEnded = now();
      const latencyMs = callEnded - callStarted;

      const after = await coord<BreakerState | undefined>(undefined, () => breakers.recordSuccess(key, policy, callId));
      if (after) observeState(id.provider, after);
      const tpm = rateLimits[id.provider]?.tpm;
      const used = response.usage.inputTokens + response.usage.outputTokens;
      if (tpm && used !== estimate) {
        await coord(undefined, () => opts.coordination.rateLimiter.adjust(`llm:${id.provider}:tpm`, used - estimate, tpm));
      }

      // Price what actually answered when the table knows it, else what was asked for.
      const responsePrice = prices.lookup(`${id.provider}/${response.responseModel}`) ?? price;
      const micro = responsePrice ? costMicroUsd(responsePrice, response.usage) : 0;
      const result: LlmResult = {
        provider: id.provider,
        ...(response.responseId !== undefined ? { responseId: response.responseId } : {}),
        ...(provider.server ? { server: provider.server } : {}),
        requestModel: req.model,
        responseModel: response.responseModel,
        text: response.text,
        finishReasons: response.finishReasons,
        usage: response.usage,
        costUsd: microToUsd(micro),
        costMicroUsd: micro,
        priceVersion: prices.version,
        latencyMs,
      };
      emit({
        outcome: "success",
        providerCalled: true,
        responseModel: response.responseModel,
        usage: response.usage,
        costUsd: result.costUsd,
        costMicroUsd: micro,
      });
      return result;
    },
  };
  return gateway;
}

interface ResolvedLimits {
  readonly rpm?: RateLimit;
  readonly tpm?: RateLimit;
}

function validateRateLimits(config: Partial<Record<ProviderName, ProviderRateLimits>>): Partial<Record<ProviderName, ResolvedLimits>> {
  const out: Partial<Record<ProviderName, ResolvedLimits>> = {};
  for (const [provider, limits] of Object.entries(config) as [string, ProviderRateLimits | undefined][]) {
    if (!(providerNames as readonly string[]).includes(provider)) {
      throw new Error(`rateLimits.${provider}: unknown provider (known: ${providerNames.join(", ")})`);
    }
    if (!limits) continue;
    const check = (field: keyof ProviderRateLimits): RateLimit | undefined => {
      const v = limits[field];
      if (v === undefined) return undefined;
      if (!Number.isFinite(v) || v <= 0) throw new Error(`rateLimits.${provider}.${field} must be a positive number, got ${String(v)}`);
      return { perMinute: v };
    };
    out[provider as ProviderName] = { rpm: check("requestsPerMinute"), tpm: check("tokensPerMinute") };
  }
  return out;
}
