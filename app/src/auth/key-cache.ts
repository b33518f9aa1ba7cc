/**
 * The in-process cache of API key lookups, so an API request does not cost a Postgres query.
 *
 * Keyed by the key's SHA-256 hash, never the key. A key that was found is reused for `ttlMs` from
 * the start of the lookup that found it; a refused one (unknown or revoked) for `missTtlMs`
 * (APEX_API_KEY_MISS_CACHE_MS), whatever `ttlMs` is, so a client retrying with a bad key costs one
 * query per `missTtlMs`, not one per request. Refusals live in a space of their own: a flood of
 * random keys cannot push the real ones out. Both spaces are bounded; beyond the cap the least
 * recently used entry goes.
 *
 * A refusal never outlives a key's creation in this process (the store evicts the new key's hash);
 * a key registered by another process (a bootstrap key chosen in advance) is accepted here at most
 * `missTtlMs` after that process registered it. Revocation is unaffected: it only ever refuses.
 *
 * Revocation: ApiKeyStore evicts a key it revokes at once. A lookup that was in flight while the
 * key was evicted may have read the row before the change, so its result is dropped, not cached.
 * Another process keeps its entry until it expires: `ttlMs` bounds the revocation delay there.
 */
import type { Principal } from "../service/types";

/** How long a refused key is remembered when the options do not say (shorter when `ttlMs` is). */
export const refusedTtlMs = 1_000;
export const defaultMaxEntries = 10_000;
const maxRefusedEntries = 1_000;

export interface ApiKeyCacheOptions {
  /** How long a found key is reused; 0: found keys are not cached. */
  readonly ttlMs: number;
  /** How long a refused key is remembered; 0: refusals are not cached. Default min(ttlMs, 1 s). */
  readonly missTtlMs?: number;
  /** Found keys kept at most; default 10 000. */
  readonly maxEntries?: number;
  /** Monotonic clock in ms; default performance.now. */
  readonly now?: () => number;
}

/** A hit: the principal, or undefined for a key known to be unknown or revoked. */
export interface CachedLookup {
  readonly principal: Principal | undefined;
}

/** Taken when a database lookup starts; `remember` needs it to judge whether the result is still good. */
export interface LookupTicket {
  readonly startedAt: number;
  readonly invalidations: number;
}

export class ApiKeyCache {
  private readonly ttlMs: number;
  private readonly missTtlMs: number;
  private readonly now: () => number;
  private readonly found: ExpiringLru<Principal>;
  private readonly refused = new ExpiringLru<true>(maxRefusedEntries);
  private invalidations = 0;

  constructor(options: ApiKeyCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.missTtlMs = options.missTtlMs ?? Math.min(options.ttlMs, refusedTtlMs);
    this.now = options.now ?? (() => performance.now());
    this.found = new ExpiringLru(options.maxEntries ?? defaultMaxEntries);
  }

  get size(): number {
    return this.found.size + this.refused.size;
  }

  lookup(keyHash: string): CachedLookup | undefined {
    if (this.ttlMs === 0 && this.missTtlMs === 0) return undefined;
    const now = this.now();
    const principal = this.ttlMs > 0 ? this.found.get(keyHash, now) : undefined;
    if (principal) return { principal };
    if (this.missTtlMs > 0 && this.refused.get(keyHash, now)) return { principal: undefined };
    return undefined;
  }

  beginLookup(): LookupTicket {
    return { startedAt: this.now(), invalidations: this.invalidations };
  }

  /** Caches a lookup's result unless a key was evicted while it ran (it may predate a revocation). */
  remember(keyHash: string, principal: Principal | undefined, ticket: LookupTicket): void {
    if (ticket.invalidations !== this.invalidations) return;
    if (principal) {
      if (this.ttlMs > 0) this.found.set(keyHash, principal, ticket.startedAt + this.ttlMs);
    } else if (this.missTtlMs > 0) {
      this.refused.set(keyHash, true, ticket.startedAt + this.missTtlMs);
    }
  }

  /** Forgets a key whose row changed (revoked, registered), and every lookup still in flight. */
  evict(keyHash: string): void {
    this.invalidations++;
    this.found.delete(keyHash);
    this.refused.delete(keyHash);
  }
}

/** A Map in recency order (oldest first) whose entries expire; beyond `maxEntries` the oldest goes. */
class ExpiringLru<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
