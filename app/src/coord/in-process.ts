/**
 * The in-process stand-in used when REDIS_URL is unset: the same breaker machine, token bucket
 * and event semantics as the Redis implementation (events are JSON round-tripped and delivered
 * asynchronously, as they would be through Redis), but shared only within this process.
 */
import { closedRecord, stepBreaker, validateBreakerPolicy, type BreakerOp, type BreakerRecord } from "./breaker-machine";
import { adjustBucket, bucketShape, takeFromBucket, validateCost, type BucketRecord } from "./token-bucket";
import {
  defaultBreakerPolicy,
  type BreakerPolicy,
  type BreakerState,
  type BreakerStore,
  type Coordination,
  type EventBus,
  type RateLimit,
  type RateLimiter,
} from "./types";

export interface InProcessCoordinationOptions {
  readonly now?: () => number;
  /** Policy used when a caller passes none. Default `defaultBreakerPolicy`. */
  readonly breakerPolicy?: BreakerPolicy;
}

export function createInProcessCoordination(opts: InProcessCoordinationOptions = {}): Coordination {
  const now = opts.now ?? Date.now;
  const fallbackPolicy = validateBreakerPolicy(opts.breakerPolicy ?? defaultBreakerPolicy);
  let closed = false;
  const assertOpen = () => {
    if (closed) throw new Error("coordination is closed");
  };

  const breakerRecords = new Map<string, BreakerRecord>();
  const runBreaker = async (key: string, op: BreakerOp, policy: BreakerPolicy | undefined, callId?: string) => {
    assertOpen();
    const current = breakerRecords.get(key);
    const { record, admission } = stepBreaker(current ?? closedRecord, op, now(), validateBreakerPolicy(policy ?? fallbackPolicy), callId);
    if (current || record.state !== "closed" || record.failures > 0 || Object.keys(record.inFlight).length > 0) breakerRecords.set(key, record);
    return { state: record.state, admission };
  };
  const breakers: BreakerStore = {
    state: async (key, policy) => (await runBreaker(key, "state", policy)).state,
    admit: async (key, policy) => (await runBreaker(key, "admit", policy)).admission !== "refused",
    admitCall: async (key, callId, policy) => (await runBreaker(key, "admit", policy, callId)).admission,
    recordSuccess: async (key, policy, callId): Promise<BreakerState> => (await runBreaker(key, "success", policy, callId)).state,
    recordFailure: async (key, policy, callId) => (await runBreaker(key, "failure", policy, callId)).state,
    release: async (key, policy, callId) => (await runBreaker(key, "release", policy, callId)).state,
  };

  const buckets = new Map<string, BucketRecord>();
  const rateLimiter: RateLimiter = {
    async take(key: string, cost: number, limit?: RateLimit) {
      assertOpen();
      validateCost(cost);
      if (!limit) return 0;
      const { record, waitMs } = takeFromBucket(buckets.get(key), cost, now(), bucketShape(limit));
      buckets.set(key, record);
      return waitMs;
    },
    async adjust(key: string, delta: number, limit: RateLimit) {
      assertOpen();
      if (!Number.isFinite(delta)) throw new Error(`rate limiter: delta must be a finite number, got ${String(delta)}`);
      buckets.set(key, adjustBucket(buckets.get(key), delta, now(), bucketShape(limit)));
    },
  };

  const events = createInProcessEventBus(assertOpen);

  return {
    kind: "in-process",
    breakers,
    rateLimiter,
    events,
    async close() {
      closed = true;
      events.clear();
    },
  };
}

/**
 * Events within this process only: JSON round-tripped and delivered asynchronously, in publish
 * order, as they would be through Redis. `assertOpen` lets an owner refuse use after close.
 */
export function createInProcessEventBus(assertOpen: () => void = () => undefined): EventBus & { clear(): void } {
  const subscribers = new Map<string, Set<(event: unknown) => void>>();
  return {
    kind: "in-process",
    async publish(channel, event) {
      assertOpen();
      const payload = JSON.stringify(event);
      for (const handler of [...(subscribers.get(channel) ?? [])]) {
        setImmediate(() => {
          try {
            handler(JSON.parse(payload));
          } catch {
            // the subscriber owns its errors, as with Redis
          }
        });
      }
    },
    async subscribe(channel, onEvent) {
      assertOpen();
      let set = subscribers.get(channel);
      if (!set) subscribers.set(channel, (set = new Set()));
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const handler = (event: unknown) => onEvent(event);
      set.add(handler);
      return async () => {
        set.delete(handler);
        if (set.size === 0 && subscribers.get(channel) === set) subscribers.delete(channel);
      };
    },
    clear() {
      subscribers.clear();
    },
  };
}
