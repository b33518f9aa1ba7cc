/**
 * The API's abuse limits, for both transports: a token bucket per client IP (taken before the key
 * is looked up, so a flood of bad keys is stopped before it costs lookups), one per API key (after),
 * and a cap on the DAG watches (SSE, gRPC WatchDag) a key holds open on this replica. Over a limit:
 * `resource_exhausted` (HTTP 429, gRPC RESOURCE_EXHAUSTED) with the seconds to wait.
 *
 * The buckets are coord's token bucket (coord/token-bucket.ts): shared by every replica through
 * Redis when the runtime has it (REDIS_URL), else kept in this process, bounded (least recently used
 * bucket forgotten first). A Redis that fails or is slower than `sharedTimeoutMs` is not waited
 * for: that request is judged by this replica's own bucket, so the limit holds per replica and the
 * API never stops because Redis did.
 */
import type { RateLimit, RateLimiter } from "../coord/types";
import { bucketShape, takeFromBucket, type BucketRecord, type BucketShape } from "../coord/token-bucket";
import { logger } from "../telemetry/logger";
import { ApiError } from "./errors";

export interface ApiLimits {
  /** Requests per minute per API key (APEX_API_RATE_LIMIT_PER_KEY); 0 = no limit. */
  readonly perKeyPerMinute: number;
  /** Requests per minute per client IP (APEX_API_RATE_LIMIT_PER_IP); 0 = no limit. */
  readonly perIpPerMinute: number;
  /** Open watches per key on this replica (APEX_API_MAX_WATCHES_PER_KEY); 0 = no cap. */
  readonly maxWatchesPerKey: number;
}

export interface ApiRateLimiterOptions {
  /** The runtime's Redis limiter; unset = buckets in this process. */
  readonly shared?: RateLimiter;
  /** Longest wait for the shared limiter before this replica's bucket decides. Default 250 ms. */
  readonly sharedTimeoutMs?: number;
  /** Buckets kept in this process at most. Default 100 000. */
  readonly maxLocalBuckets?: number;
  /** Clock in ms; default Date.now (the Redis buckets use wall time too). */
  readonly now?: () => number;
}

/** A bucket holds ten seconds' worth of requests: bursts pass, a sustained flood does not. */
export function bucketOf(perMinute: number): RateLimit {
  return { perMinute, burst: Math.max(1, Math.ceil(perMinute / 6)) };
}

export class ApiRateLimiter {
  private readonly local: LocalBuckets;
  private readonly shared?: RateLimiter;
  private readonly sharedTimeoutMs: number;
  private readonly watches = new Map<string, number>();
  private lastSharedFailureLog = 0;

  constructor(
    readonly limits: ApiLimits,
    options: ApiRateLimiterOptions = {},
  ) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`API limits: ${name} must be a whole number >= 0, got ${String(value)}`);
    }
    this.local = new LocalBuckets(options.maxLocalBuckets ?? 100_000, options.now ?? Date.now);
    this.shared = options.shared;
    this.sharedTimeoutMs = options.sharedTimeoutMs ?? 250;
  }

  /** Before authentication: refuses a client IP over its rate. */
  async admitIp(ip: string): Promise<void> {
    if (this.limits.perIpPerMinute === 0) return;
    const waitMs = await this.take(`api:ip:${ip}`, bucketOf(this.limits.perIpPerMinute));
    if (waitMs > 0) throw rateLimited(`more than ${this.limits.perIpPerMinute} requests per minute from this client address`, waitMs);
  }

  /** After authentication: refuses an API key over its rate. */
  async admitKey(keyId: string): Promise<void> {
    if (this.limits.perKeyPerMinute === 0) return;
    const waitMs = await this.take(`api:key:${keyId}`, bucketOf(this.limits.perKeyPerMinute));
    if (waitMs > 0) throw rateLimited(`more than ${this.limits.perKeyPerMinute} requests per minute with this API key`, waitMs);
  }

  /** Holds one of the key's watch slots; returns the release (safe to call twice). Over the cap: resource_exhausted. */
  openWatch(keyId: string): () => void {
    const cap = this.limits.maxWatchesPerKey;
    const open = this.watches.get(keyId) ?? 0;
    if (cap > 0 && open >= cap) {
      throw new ApiError(
        "resource_exhausted",
        `this API key already has ${open} open DAG watches on this server, the cap (APEX_API_MAX_WATCHES_PER_KEY=${cap}); close one first`,
        undefined,
        1,
      );
    }
    this.watches.set(keyId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.watches.get(keyId) ?? 1) - 1;
      if (left > 0) this.watches.set(keyId, left);
      else this.watches.delete(keyId);
    };
  }

  /** Open watches of a key on this replica (tests, metrics). */
  openWatches(keyId: string): number {
    return this.watches.get(keyId) ?? 0;
  }

  private async take(key: string, limit: RateLimit): Promise<number> {
    if (!this.shared) return this.local.take(key, limit);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.sharedTimeoutMs);
    });
    try {
      const waited = await Promise.race([this.shared.take(key, 1, limit), timeout]);
      if (waited !== "timeout") return waited;
      this.logSharedFailure("the shared rate limiter (Redis) did not answer in time");
    } catch (err) {
      this.logSharedFailure(`the shared rate limiter (Redis) failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    return this.local.take(key, limit);
  }

  private logSharedFailure(message: string): void {
    const now = Date.now();
    if (now - this.lastSharedFailureLog < 60_000) return;
    this.lastSharedFailureLog = now;
    logger.warn({}, `${message}; API rate limits are applied per replica until it recovers`);
  }
}

function rateLimited(what: string, waitMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1_000));
  return new ApiError("resource_exhausted", `rate limit exceeded: ${what}; retry in ${seconds} s`, undefined, seconds);
}

/** Token buckets in this process, least recently used forgotten first beyond `maxBuckets`. */
class LocalBuckets {
  private readonly buckets = new Map<string, BucketRecord>();
  private readonly shapes = new Map<string, BucketShape>();

  constructor(
    private readonly maxBuckets: number,
    private readonly now: () => number,
  ) {}

  take(key: string, limit: RateLimit): number {
    const { record, waitMs } = takeFromBucket(this.buckets.get(key), 1, this.now(), this.shape(limit));
    this.buckets.delete(key);
    this.buckets.set(key, record);
    while (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
    return waitMs;
  }

  private shape(limit: RateLimit): BucketShape {
    const id = `${limit.perMinute}/${limit.burst ?? limit.perMinute}`;
    let shape = this.shapes.get(id);
    if (!shape) this.shapes.set(id, (shape = bucketShape(limit)));
    return shape;
  }
}
