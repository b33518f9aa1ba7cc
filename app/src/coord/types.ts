/**
 * What replicas share but need not keep: circuit breaker state, LLM rate limits and event fan-out.
 * Redis when REDIS_URL is set; an in-process stand-in behind the same interface otherwise.
 */
export type BreakerState = "closed" | "half_open" | "open";

export interface BreakerStore {
  /** Current state for a key (e.g. a provider); transitions open -> half_open when the cool-down passed. */
  state(key: string): Promise<BreakerState>;
  /** May this call go through? In half_open, only one probe at a time is admitted. */
  admit(key: string): Promise<boolean>;
  recordSuccess(key: string): Promise<void>;
  recordFailure(key: string): Promise<void>;
}

export interface RateLimiter {
  /** Take `cost` units from `key`'s budget; returns 0 when allowed, else ms to wait. */
  take(key: string, cost: number): Promise<number>;
}

export interface EventBus {
  publish(channel: string, event: unknown): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, onEvent: (event: unknown) => void): Promise<() => Promise<void>>;
}

export interface Coordination {
  readonly breakers: BreakerStore;
  readonly rateLimiter: RateLimiter;
  readonly events: EventBus;
  close(): Promise<void>;
}
