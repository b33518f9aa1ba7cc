/**
 * Entry point of the coordination layer: Redis when a URL is given (REDIS_URL), otherwise the
 * in-process stand-in with the same semantics. Events (the DAG event fan-out to streaming
 * clients) pick their backend once, here: Redis pub/sub with Redis; without Redis, Postgres
 * LISTEN/NOTIFY when the store is a real Postgres (API and workers may be separate processes);
 * otherwise (PGlite: one process) in-process.
 */
import type { Db } from "../store/db";
import { createInProcessCoordination } from "./in-process";
import { createPgNotifyEventBus } from "./pg-notify";
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
  /**
   * The store, when it may carry events: without a Redis URL, a Postgres store (kind "postgres")
   * carries them through LISTEN/NOTIFY. Ignored with Redis and for PGlite.
   */
  readonly eventsDb?: Db;
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
  const local = createInProcessCoordination({ now: opts.now, breakerPolicy: opts.breakerPolicy });
  if (opts.eventsDb?.kind !== "postgres") return local;
  const events = createPgNotifyEventBus(opts.eventsDb);
  return {
    kind: local.kind,
    breakers: local.breakers,
    rateLimiter: local.rateLimiter,
    events,
    close: () => local.close(),
  };
}

export * from "./types";
export { createInProcessCoordination, createInProcessEventBus } from "./in-process";
export { createPgNotifyEventBus } from "./pg-notify";
export { createRedisCoordination } from "./redis";
