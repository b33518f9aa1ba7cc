/**
 * What replicas share but need not keep: circuit breaker state, LLM rate limits and event fan-out.
 * Redis when REDIS_URL is set; an in-process stand-in behind the same interface otherwise (events:
 * Postgres LISTEN/NOTIFY instead when the store is a real Postgres, see index.ts).
 * Both implementations run through one parametrised test suite (app/test/coord.test.ts).
 */
export type BreakerState = "closed" | "half_open" | "open";

/** What admitting a tracked call answered: a call, the single half_open probe (it gets probeTimeoutMs), or no. */
export type BreakerAdmission = "admitted" | "probe" | "refused";

/** When a breaker opens and how it recovers. Defaults: `defaultBreakerPolicy`. */
export interface BreakerPolicy {
  /**
   * Consecutive failures that open a closed breaker. Calls in flight count against it once a
   * failure is seen: then a call is admitted only while the calls admitted since and still in flight
   * are fewer than failureThreshold - consecutive failures (a healthy provider is not limited).
   */
  readonly failureThreshold: number;
  /** How long an open breaker rejects calls before it admits a probe (half_open). */
  readonly cooldownMs: number;
  /**
   * How long an admitted call or half_open probe holds its slot if its worker dies without
   * reporting; keep it above the LLM call timeout.
   */
  readonly probeLeaseMs: number;
  /**
   * The half_open probe's own time limit (the gateway aborts it then and counts a failure), so a
   * provider that hangs cannot hold recovery for a whole call timeout. At most probeLeaseMs.
   */
  readonly probeTimeoutMs: number;
}

export const defaultBreakerPolicy: BreakerPolicy = {
  failureThreshold: 5,
  cooldownMs: 30_000,
  probeLeaseMs: 120_000,
  probeTimeoutMs: 10_000,
};

export interface BreakerStore {
  /** Current state for a key (e.g. a provider); transitions open -> half_open when the cool-down passed. */
  state(key: string, policy?: BreakerPolicy): Promise<BreakerState>;
  /** May this call go through? In half_open, only one probe at a time is admitted. Untracked (no call id). */
  admit(key: string, policy?: BreakerPolicy): Promise<boolean>;
  /**
   * May call `callId` go through? Closed without failures: yes. Closed after a failure: only while
   * the tracked calls in flight < failureThreshold - failures (the call then holds a slot until it
   * reports with the same id). half_open: the single probe.
   */
  admitCall(key: string, callId: string, policy?: BreakerPolicy): Promise<BreakerAdmission>;
  /** A call succeeded: half_open -> closed, closed resets its failure count. Returns the state after. */
  recordSuccess(key: string, policy?: BreakerPolicy, callId?: string): Promise<BreakerState>;
  /** A call failed: closed opens at the threshold, a failed half_open probe re-opens. Returns the state after. */
  recordFailure(key: string, policy?: BreakerPolicy, callId?: string): Promise<BreakerState>;
  /** A call ended with an outcome that says nothing about the provider's health: frees its slot (or the probe slot). */
  release(key: string, policy?: BreakerPolicy, callId?: string): Promise<BreakerState>;
}

/**
 * A token bucket: holds at most `burst` units (default `perMinute`), refilled continuously at
 * `perMinute` units per minute.
 */
export interface RateLimit {
  readonly perMinute: number;
  readonly burst?: number;
}

export interface RateLimiter {
  /**
   * Take `cost` units from `key`'s budget; returns 0 when allowed, else ms to wait before the same
   * take can succeed (nothing is taken then). A cost above the bucket size is clamped to it.
   * Without a `limit` the key is unlimited and this returns 0.
   */
  take(key: string, cost: number, limit?: RateLimit): Promise<number>;
  /**
   * Settle a difference after the fact without waiting: a positive `delta` takes (the balance may
   * go negative, down to minus the bucket size, delaying later takes); a negative one refunds.
   * Used for tokens-per-minute, where the real token count is known only after the call.
   */
  adjust(key: string, delta: number, limit: RateLimit): Promise<void>;
}

export interface EventBus {
  /** Which backend carries the events, for logs (optional so hand-made test doubles still fit). */
  readonly kind?: "redis" | "postgres" | "in-process";
  /** Delivers `event` (JSON-serialisable) to every subscriber of `channel` on any replica. */
  publish(channel: string, event: unknown): Promise<void>;
  /** Resolves once the subscription is live. Returns an unsubscribe function. */
  subscribe(channel: string, onEvent: (event: unknown) => void): Promise<() => Promise<void>>;
}

export interface Coordination {
  /** "redis" or "in-process", for logs and /readyz (optional so hand-made test doubles still fit). */
  readonly kind?: "redis" | "in-process";
  readonly breakers: BreakerStore;
  readonly rateLimiter: RateLimiter;
  readonly events: EventBus;
  close(): Promise<void>;
}
