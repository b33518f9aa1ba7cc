/**
 * API keys: creation, authentication, listing and revocation over the `api_keys` table.
 *
 * A key is `apex_` + 32 random bytes (base64url). Only its SHA-256 hex digest is stored, with a
 * short prefix for display; the secret is returned once, at creation.
 *
 * With `cacheMs` (APEX_API_KEY_CACHE_MS) a lookup is reused in this process for that long
 * (key-cache.ts), so most requests cost no query. A revocation through this store takes effect
 * here on the next request; other processes see it within `cacheMs`.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "../store/db";
import { ServiceError, type Principal, type Role } from "../service/types";
import { isRole } from "./permissions";
import { runtimeEnv } from "../contract/env";
import { ApiKeyCache } from "./key-cache";

export const apiKeyPrefix = "apex_";
/** Characters of a generated secret kept in clear for display (`apex_` + 7 of 43 random). */
const displayPrefixLength = 12;
/** Operator-chosen keys may be short: reveal less of them. */
const foreignDisplayPrefixLength = 4;
/** Shortest operator-chosen key (APEX_BOOTSTRAP_ADMIN_KEY) accepted: below this it is guessable. */
export const minimumKeyLength = 24;
/** Tokens longer than this are rejected without hashing: no key is that long. */
const maximumKeyLength = 512;
/** `last_used_at` is written at most this often per key, so reads do not turn into writes. */
const lastUsedResolutionSeconds = 60;
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Serialises changes that must leave at least one active admin key. */
const adminLockSql = "SELECT pg_advisory_xact_lock(hashtext('apex:api_keys:admin'))";

export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly agentId?: string;
  /** The first characters of the secret, to recognise a key without revealing it. */
  readonly prefix: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
  readonly lastUsedAt?: string;
}

export interface CreateApiKeyInput {
  readonly name: string;
  readonly role: Role;
  /** Required for role "agent" (the agent it may act for); refused for other roles. */
  readonly agentId?: string;
}

interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  agent_id: string | null;
  key_prefix: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
  last_used_at: Date | string | null;
}

const columns = "id, name, role, agent_id, key_prefix, created_at, revoked_at, last_used_at";

export function generateApiKey(): string {
  return apiKeyPrefix + randomBytes(32).toString("base64url");
}

export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

function displayPrefix(secret: string): string {
  const generated = secret.startsWith(apiKeyPrefix) && secret.length >= 40;
  return secret.slice(0, generated ? displayPrefixLength : foreignDisplayPrefixLength);
}

export function isUuid(value: string): boolean {
  return uuidShape.test(value);
}

export interface ApiKeyStoreOptions {
  /** How long a lookup is reused in this process (APEX_API_KEY_CACHE_MS); default 0: every request reads the table. */
  readonly cacheMs?: number;
  /** How long an unknown or revoked key is remembered as refused (APEX_API_KEY_MISS_CACHE_MS); default min(cacheMs, 1 s). */
  readonly missCacheMs?: number;
  /** Keys the cache holds at most; default 10 000. */
  readonly cacheMaxEntries?: number;
  /** Monotonic clock of the cache in ms (tests); default performance.now. */
  readonly now?: () => number;
}

export class ApiKeyStore {
  private readonly cache: ApiKeyCache;

  constructor(
    private readonly db: Db,
    options: ApiKeyStoreOptions = {},
  ) {
    this.cache = new ApiKeyCache({
      ttlMs: options.cacheMs ?? 0,
      missTtlMs: options.missCacheMs,
      maxEntries: options.cacheMaxEntries,
      now: options.now,
    });
  }

  /**
   * Ensures an admin can log in. With `key` (APEX_BOOTSTRAP_ADMIN_KEY) that key is registered as an
   * admin key, once; a revoked bootstrap key stays revoked. Without it, when no active admin key
   * exists, one is generated and returned so the caller can print it once; otherwise undefined.
   */
  async bootstrapAdmin(key?: string): Promise<string | undefined> {
    if (key !== undefined) {
      if (key.length < minimumKeyLength || key.length > maximumKeyLength || /\s/.test(key)) {
        throw new Error(
          `${runtimeEnv.bootstrapAdminKey} must be ${minimumKeyLength} to ${maximumKeyLength} characters without whitespace`,
        );
      }
      await this.db.query(
        `INSERT INTO api_keys (id, name, role, key_hash, key_prefix) VALUES ($1, 'bootstrap-admin', 'admin', $2, $3)
         ON CONFLICT (key_hash) DO NOTHING`,
        [randomUUID(), hashApiKey(key), displayPrefix(key)],
      );
      this.cache.evict(hashApiKey(key));
      return undefined;
    }
    return this.db.transaction(async (tx) => {
      await tx.query(adminLockSql);
      const admins = await tx.query(`SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1`);
      if (admins.rows.length > 0) return undefined;
      const secret = generateApiKey();
      await insertKey(tx, { name: "bootstrap-admin", role: "admin" }, secret);
      return secret;
    });
  }

  /**
   * The principal a bearer token stands for, or undefined when it is unknown or revoked. From the
   * cache when this process looked the key up less than `cacheMs` ago, else one query.
   */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (token.length === 0 || token.length > maximumKeyLength) return undefined;
    const keyHash = hashApiKey(token);
    const cached = this.cache.lookup(keyHash);
    if (cached) return cached.principal;
    const ticket = this.cache.beginLookup();
    const principal = await this.lookUp(keyHash);
    this.cache.remember(keyHash, principal, ticket);
    return principal;
  }

  /** One statement: reads the active key and, when its last use is older than the resolution, records this one. */
  private async lookUp(keyHash: string): Promise<Principal | undefined> {
    const { rows } = await this.db.query<{ id: string; role: string; agent_id: string | null }>(
      `WITH found AS (SELECT id, role, agent_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
            touched AS (UPDATE api_keys SET last_used_at = now()
                         WHERE id = (SELECT id FROM found)
                           AND (last_used_at IS NULL OR last_used_at < now() - interval '${lastUsedResolutionSeconds} seconds'))
       SELECT id, role, agent_id FROM found`,
      [keyHash],
    );
    const row = rows[0];
    if (!row || !isRole(row.role)) return undefined;
    if (row.role === "agent" && !row.agent_id) return undefined;
    return row.role === "agent" ? { keyId: row.id, role: row.role, agentId: row.agent_id ?? undefined } : { keyId: row.id, role: row.role };
  }

  /** Creates a key and returns its secret; the secret is not stored and cannot be shown again. */
  async create(input: CreateApiKeyInput): Promise<{ key: ApiKeyView; secret: string }> {
    if (input.role === "agent" && !input.agentId) {
      throw new ServiceError("invalid_argument", "a key with role agent must name the agent it acts for", "agent_id");
    }
    if (input.role !== "agent" && input.agentId !== undefined) {
      throw new ServiceError("invalid_argument", `only keys with role agent are bound to an agent, not role ${input.role}`, "agent_id");
    }
    return this.db.transaction(async (tx) => {
      if (input.agentId !== undefined) {
        const agent = isUuid(input.agentId)
          ? await tx.query(`SELECT 1 FROM agents WHERE id = $1`, [input.agentId])
          : { rows: [] };
        if (agent.rows.length === 0) throw new ServiceError("invalid_argument", `no agent with id ${input.agentId}`, "agent_id");
      }
      const secret = generateApiKey();
      const key = await insertKey(tx, input, secret);
      return { key, secret };
    }).then((created) => {
      // A refusal of this very secret (someone guessed it first) must not outlive its creation.
      this.cache.evict(hashApiKey(created.secret));
      return created;
    });
  }

  /** One key by id (revoked ones too), or undefined. */
  async get(id: string): Promise<ApiKeyView | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.db.query<ApiKeyRow>(`SELECT ${columns} FROM api_keys WHERE id = $1`, [id]);
    return rows[0] ? toView(rows[0]) : undefined;
  }

  async list(): Promise<ApiKeyView[]> {
    const { rows } = await this.db.query<ApiKeyRow>(`SELECT ${columns} FROM api_keys ORDER BY created_at, id`);
    return rows.map(toView);
  }

  /**
   * Revokes a key: refused at once by this store, by other processes within their `cacheMs`.
   * Revoking a revoked key returns it unchanged (and drops it from this process's cache). The last
   * active admin key cannot be revoked (conflict): create another admin key first.
   */
  async revoke(id: string): Promise<ApiKeyView> {
    if (!isUuid(id)) throw new ServiceError("not_found", `no API key with id ${id}`, "id");
    const { view, keyHash } = await this.revokeRow(id);
    // After the commit: a lookup started from here on reads the revoked row.
    this.cache.evict(keyHash);
    return view;
  }

  private async revokeRow(id: string): Promise<{ view: ApiKeyView; keyHash: string }> {
    return this.db.transaction(async (tx) => {
      await tx.query(adminLockSql);
      const { rows } = await tx.query<ApiKeyRow & { key_hash: string }>(`SELECT ${columns}, key_hash FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
      const row = rows[0];
      if (!row) throw new ServiceError("not_found", `no API key with id ${id}`, "id");
      if (row.revoked_at !== null) return { view: toView(row), keyHash: row.key_hash };
      if (row.role === "admin") {
        const others = await tx.query(
          `SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL AND id <> $1 LIMIT 1`,
          [id],
        );
        if (others.rows.length === 0) {
          throw new ServiceError("conflict", "this is the last active admin key; create another admin key before revoking it", "id");
        }
      }
      const updated = await tx.query<ApiKeyRow>(
        `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING ${columns}`,
        [id],
      );
      return { view: toView(updated.rows[0] ?? row), keyHash: row.key_hash };
    });
  }
}

async function insertKey(tx: Db, input: CreateApiKeyInput, secret: string): Promise<ApiKeyView> {
  const { rows } = await tx.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, name, role, agent_id, key_hash, key_prefix) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING ${columns}`,
    [randomUUID(), input.name, input.role, input.agentId ?? null, hashApiKey(secret), displayPrefix(secret)],
  );
  const row = rows[0];
  if (!row) throw new Error("INSERT INTO api_keys returned no row");
  return toView(row);
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function toView(row: ApiKeyRow): ApiKeyView {
  if (!isRole(row.role)) throw new Error(`api_keys row ${row.id} has unknown role ${row.role}`);
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    ...(row.agent_id ? { agentId: row.agent_id } : {}),
    prefix: row.key_prefix,
    createdAt: iso(row.created_at),
    ...(row.revoked_at ? { revokedAt: iso(row.revoked_at) } : {}),
    ...(row.last_used_at ? { lastUsedAt: iso(row.last_used_at) } : {}),
  };
}
