/**
 * Entry point of the coordination layer: Redis when a URL is given (REDIS_URL), otherwise the
 * in-process stand-in with the same semantics.
 */
import { createInProcessCoordination } from "./in-process";
import { createRedisCoordination } from "./redis";
import type { BreakerPolicy, Coordination } from "./types";

export interface CoordinationOptions {
  /** Redis URL (redis:// or rediss://). Unset or empty: in-process. */
  readonly redisUrl?: string;
  /** Prefix of every Redis key and channel. Default "apex:". */
  readonly keyPrefix?: string;
  /** Breaker policy when a caller passes none. */
  readonly breakerPolicy?: BreakerPolicy;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

export async function createCoordination(opts: CoordinationOptions = {}): Promise<Coordination> {
  if (opts.redisUrl) {
    return createRedisCoordination({
      redisUrl: opts.redisUrl,
      keyPrefix: opts.keyPrefix,
      breakerPolicy: opts.breakerPolicy,
      now: opts.now,
    });
  }
  return createInProcessCoordination({ now: opts.now, breakerPolicy: opts.breakerPolicy });
}

export * from "./types";
export { createInProcessCoordination } from "./in-process";
export { createRedisCoordination } from "./redis";
