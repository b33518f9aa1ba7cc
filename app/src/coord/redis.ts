/**
 * Coordination through Redis, shared by every replica: breaker state and token buckets in hashes
 * changed only by Lua scripts (atomic), events through pub/sub on a second connection (a
 * subscribed Redis connection can issue no other commands).
 */
import { Redis } from "ioredis";
import { runtimeEnv } from "../contract/env";
import { validateBreakerPolicy, type BreakerOp } from "./breaker-machine";
import { breakerScript, tokenBucketScript } from "./redis-scripts";
import { bucketShape, validateCost } from "./token-bucket";
import {
  defaultBreakerPolicy,
  type BreakerAdmission,
  type BreakerPolicy,
  type BreakerState,
  type BreakerStore,
  type Coordination,
  type EventBus,
  type RateLimit,
  type RateLimiter,
} from "./types";

export interface RedisCoordinationOptions {
  readonly redisUrl: string;
  /** Prefix of every key and channel, so environments or tests can share one Redis. Default "apex:". */
  readonly keyPrefix?: string;
  readonly now?: () => number;
  /** Policy used when a caller passes none. Default `defaultBreakerPolicy`. */
  readonly breakerPolicy?: BreakerPolicy;
  /** How long to wait for the first connection before giving up. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * A command without a reply after this long fails (e.g. it was in flight when the connection
   * dropped; ioredis would otherwise hold it until Redis is back). Default 2000 ms.
   */
  readonly commandTimeoutMs?: number;
}

type ScriptCommands = {
  apexBreaker(key: string, slots: string, ...args: (string | number)[]): Promise<[string, number]>;
  apexBucket(key: string, ...args: (string | number)[]): Promise<string>;
};

const breakerStates: readonly string[] = ["closed", "half_open", "open"] satisfies BreakerState[];

/** Connects (failing fast with a clear error if Redis is unreachable) and returns the coordination. */
export async function createRedisCoordination(opts: RedisCoordinationOptions): Promise<Coordination> {
  const prefix = opts.keyPrefix ?? "apex:";
  const now = opts.now ?? Date.now;
  const fallbackPolicy = validateBreakerPolicy(opts.breakerPolicy ?? defaultBreakerPolicy);
  const connectTimeout = opts.connectTimeoutMs ?? 5_000;

  // While disconnected, commands fail at once instead of queueing: callers (the LLM gateway)
  // fail open rather than wait for Redis. ioredis keeps reconnecting in the background.
  const redis = new Redis(opts.redisUrl, {
    lazyConnect: true,
    connectTimeout,
    commandTimeout: opts.commandTimeoutMs ?? 2_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
  // The first connection's failure is kept: connect() itself only says "Connection is closed."
  // while the event says why (a certificate that does not verify, a wrong AUTH token).
  let connectError: Error | undefined;
  redis.on("error", (err: Error) => {
    connectError ??= err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const why = connectError && connectError.message !== (err as Error).message ? `${(err as Error).message} (${connectError.message})` : (err as Error).message;
    throw new Error(`cannot connect to Redis at ${redactUrl(opts.redisUrl)}: ${why}`, { cause: err });
  }
  redis.defineCommand("apexBreaker", { numberOfKeys: 2, lua: breakerScript });
  redis.defineCommand("apexBucket", { numberOfKeys: 1, lua: tokenBucketScript });
  const scripts = redis as unknown as ScriptCommands;

  const admissions: readonly BreakerAdmission[] = ["refused", "admitted", "probe"];
  const runBreaker = async (key: string, op: BreakerOp, policy: BreakerPolicy | undefined, callId?: string) => {
    const p = validateBreakerPolicy(policy ?? fallbackPolicy);
    const ttlMs = Math.max(3_600_000, 4 * (p.cooldownMs + p.probeLeaseMs));
    const [state, admitted] = await scripts.apexBreaker(
      `${prefix}breaker:${key}`,
      `${prefix}breaker:${key}:inflight`,
      op,
      Math.floor(now()),
      p.failureThreshold,
      p.cooldownMs,
      p.probeLeaseMs,
      ttlMs,
      callId ?? "",
    );
    if (!breakerStates.includes(state)) throw new Error(`breaker script returned unknown state ${state}`);
    const admission = admissions[admitted];
    if (!admission) throw new Error(`breaker script returned unknown admission ${admitted}`);
    return { state: state as BreakerState, admission };
  };
  const breakers: BreakerStore = {
    state: async (key, policy) => (await runBreaker(key, "state", policy)).state,
    admit: async (key, policy) => (await runBreaker(key, "admit", policy)).admission !== "refused",
    admitCall: async (key, callId, policy) => (await runBreaker(key, "admit", policy, callId)).admission,
    recordSuccess: async (key, policy, callId) => (await runBreaker(key, "success", policy, callId)).state,
    recordFailure: async (key, policy, callId) => (await runBreaker(key, "failure", policy, callId)).state,
    release: async (key, policy, callId) => (await runBreaker(key, "release", policy, callId)).state,
  };

  const runBucket = async (key: string, op: "take" | "adjust", amount: number, limit: RateLimit) => {
    const shape = bucketShape(limit);
    const wait = await scripts.apexBucket(
      `${prefix}ratelimit:${key}`,
      op,
      amount,
      Math.floor(now()),
      shape.capacity,
      shape.perMs,
      shape.ttlMs,
    );
    return Number(wait);
  };
  const rateLimiter: RateLimiter = {
    async take(key, cost, limit) {
      validateCost(cost);
      if (!limit) return 0;
      return runBucket(key, "take", cost, limit);
    },
    async adjust(key, delta, limit) {
      if (!Number.isFinite(delta)) throw new Error(`rate limiter: delta must be a finite number, got ${String(delta)}`);
      await runBucket(key, "adjust", delta, limit);
    },
  };

  const events = createRedisEventBus(redis, `${prefix}events:`);

  return {
    kind: "redis",
    breakers,
    rateLimiter,
    events,
    async close() {
      await events.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function createRedisEventBus(redis: Redis, channelPrefix: string): EventBus & { close(): Promise<void> } {
  let subscriber: Promise<Redis> | undefined;
  /** Local handlers per Redis channel, and the SUBSCRIBE that makes the channel live. */
  const channels = new Map<string, { handlers: Set<(event: unknown) => void>; live: Promise<unknown> }>();

  const ensureSubscriber = (): Promise<Redis> => {
    if (subscriber) return subscriber;
    const connecting = (async () => {
      const sub = redis.duplicate();
      sub.on("error", () => undefined);
      sub.on("message", (redisChannel: string, message: string) => {
        const entry = channels.get(redisChannel);
        if (!entry) return;
        let event: unknown;
        try {
          event = JSON.parse(message);
        } catch {
          return; // not ours: something else published on our channel
        }
        for (const handler of [...entry.handlers]) deliver(handler, event);
      });
      try {
        await sub.connect();
      } catch (err) {
        sub.disconnect();
        throw err;
      }
      return sub;
    })();
    // A failed connect (Redis down at that moment) must not be remembered: the next subscribe retries.
    connecting.catch(() => {
      if (subscriber === connecting) subscriber = undefined;
    });
    subscriber = connecting;
    return connecting;
  };

  return {
    kind: "redis",
    async publish(channel, event) {
      await redis.publish(channelPrefix + channel, JSON.stringify(event));
    },
    async subscribe(channel, onEvent) {
      const sub = await ensureSubscriber();
      const redisChannel = channelPrefix + channel;
      let entry = channels.get(redisChannel);
      if (!entry) {
        entry = { handlers: new Set(), live: sub.subscribe(redisChannel) };
        channels.set(redisChannel, entry);
      }
      const handler = (event: unknown) => onEvent(event);
      entry.handlers.add(handler);
      const subscribed = entry;
      try {
        await subscribed.live;
      } catch (err) {
        subscribed.handlers.delete(handler);
        if (subscribed.handlers.size === 0 && channels.get(redisChannel) === subscribed) channels.delete(redisChannel);
        throw err;
      }
      return async () => {
        subscribed.handlers.delete(handler);
        if (subscribed.handlers.size === 0 && channels.get(redisChannel) === subscribed) {
          channels.delete(redisChannel);
          await sub.unsubscribe(redisChannel).catch(() => undefined);
        }
      };
    },
    async close() {
      channels.clear();
      if (subscriber) {
        const sub = await subscriber.catch(() => undefined);
        if (sub) await sub.quit().catch(() => sub.disconnect());
      }
    },
  };
}

/** A subscriber's exception must not reach the Redis client's event emitter (it would crash the process). */
function deliver(handler: (event: unknown) => void, event: unknown): void {
  try {
    handler(event);
  } catch {
    // the subscriber owns its errors
  }
}

/** Drops the password from a Redis URL so it can go into an error message. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return `<unparseable ${runtimeEnv.redisUrl}>`;
  }
}
