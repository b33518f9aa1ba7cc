/**
 * The token bucket shared by the in-process limiter and (as Lua) the Redis one: refills
 * continuously at perMinute/60000 units per ms up to `burst`; a take that does not fit takes
 * nothing and reports how long until it would fit.
 */
import type { RateLimit } from "./types";

export interface BucketRecord {
  readonly tokens: number;
  /** Time of the last refill (ms since epoch). */
  readonly ts: number;
}

export interface BucketShape {
  readonly capacity: number;
  readonly perMs: number;
  /** After this long untouched a bucket is full again, so it need not be stored any longer. */
  readonly ttlMs: number;
}

export function bucketShape(limit: RateLimit): BucketShape {
  if (!Number.isFinite(limit.perMinute) || limit.perMinute <= 0) {
    throw new Error(`rate limit: perMinute must be a positive number, got ${String(limit.perMinute)}`);
  }
  const capacity = limit.burst ?? limit.perMinute;
  if (!Number.isFinite(capacity) || capacity <= 0) {
    throw new Error(`rate limit: burst must be a positive number, got ${String(limit.burst)}`);
  }
  const perMs = limit.perMinute / 60_000;
  return { capacity, perMs, ttlMs: Math.ceil((2 * capacity) / perMs) + 1_000 };
}

function refill(rec: BucketRecord | undefined, now: number, shape: BucketShape): BucketRecord {
  if (!rec) return { tokens: shape.capacity, ts: now };
  if (now <= rec.ts) return rec; // clocks of replicas may lag a little: never refill backwards
  return { tokens: Math.min(shape.capacity, rec.tokens + (now - rec.ts) * shape.perMs), ts: now };
}

export function takeFromBucket(
  rec: BucketRecord | undefined,
  cost: number,
  now: number,
  shape: BucketShape,
): { record: BucketRecord; waitMs: number } {
  const filled = refill(rec, now, shape);
  const need = Math.min(cost, shape.capacity);
  if (filled.tokens >= need) return { record: { tokens: filled.tokens - need, ts: filled.ts }, waitMs: 0 };
  return { record: filled, waitMs: Math.max(1, Math.ceil((need - filled.tokens) / shape.perMs)) };
}

export function adjustBucket(rec: BucketRecord | undefined, delta: number, now: number, shape: BucketShape): BucketRecord {
  const filled = refill(rec, now, shape);
  return { tokens: Math.max(-shape.capacity, Math.min(shape.capacity, filled.tokens - delta)), ts: filled.ts };
}

export function validateCost(cost: number): number {
  if (!Number.isFinite(cost) || cost < 0) throw new Error(`rate limiter: cost must be a number >= 0, got ${String(cost)}`);
  return cost;
}
