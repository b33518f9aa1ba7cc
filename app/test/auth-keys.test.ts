/**
 * ApiKeyStore on real Postgres and on PGlite: keys hashed at rest, shown once, authenticated and
 * revoked at once, agent keys bound to an existing agent, the last admin key protected, and the
 * bootstrap admin key (given or generated once, also when replicas start together).
 */
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore, generateApiKey, hashApiKey } from "../src/auth/keys";
import { agentScope, can, permissions, rolePermissions, roles } from "../src/auth/permissions";
import { ServiceError } from "../src/service/types";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";

const serviceError = (code: ServiceError["code"], field?: string) =>
  expect.objectContaining({ name: "ServiceError", code, ...(field ? { field } : {}) });

describe.each(storeKinds)("ApiKeyStore on %s", (kind) => {
  let store: MigratedDb;
  let keys: ApiKeyStore;
  let agentId: string;

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    keys = new ApiKeyStore(store.db);
    agentId = (await store.db.query<{ id: string }>("INSERT INTO agents (name) VALUES ('keys-agent') RETURNING id")).rows[0]!.id;
  });
  afterAll(async () => store?.close());
  beforeEach(async () => {
    await store.db.query("DELETE FROM api_keys");
  });

  it("creates a high-entropy key, stores only its SHA-256 hash and a display prefix", async () => {
    const { key, secret } = await keys.create({ name: "ci", role: "operator" });
    expect(secret).toMatch(/^apex_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: "ci", role: "operator", prefix: secret.slice(0, 12) });
    expect(key).not.toHaveProperty("agentId");
    const { rows } = await store.db.query<Record<string, unknown>>("SELECT * FROM api_keys WHERE id = $1", [key.id]);
    expect(rows[0]?.key_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(await keys.list())).not.toContain(secret);
    const other = await keys.create({ name: "ci2", role: "operator" });
    expect(other.secret).not.toBe(secret);
  });

  it("authenticates to the key's principal; unknown and malformed tokens are refused", async () => {
    const op = await keys.create({ name: "op", role: "operator" });
    const ag = await keys.create({ name: "ag", role: "agent", agentId });
    expect(await keys.authenticate(op.secret)).toEqual({ keyId: op.key.id, role: "operator" });
    expect(await keys.authenticate(ag.secret)).toEqual({ keyId: ag.key.id, role: "agent", agentId });
    expect(await keys.authenticate(generateApiKey())).toBeUndefined();
    expect(await keys.authenticate(op.secret.slice(0, -1))).toBeUndefined();
    expect(await keys.authenticate("")).toBeUndefined();
    expect(await keys.authenticate("x".repeat(10_000))).toBeUndefined();
  });

  it("revocation takes effect on the next authentication and is idempotent", async () => {
    await keys.create({ name: "admin", role: "admin" });
    const v = await keys.create({ name: "v", role: "viewer" });
    expect(await keys.authenticate(v.secret)).toBeDefined();
    const revoked = await keys.revoke(v.key.id);
    expect(revoked.revokedAt).toBeDefined();
    expect(await keys.authenticate(v.secret)).toBeUndefined();
    expect((await keys.revoke(v.key.id)).revokedAt).toBe(revoked.revokedAt);
    expect((await keys.list()).find((k) => k.id === v.key.id)?.revokedAt).toBe(revoked.revokedAt);
  });

  it("records last use, at most once a minute", async () => {
    const v = await keys.create({ name: "v", role: "viewer" });
    expect((await keys.list())[0]?.lastUsedAt).toBeUndefined();
    await keys.authenticate(v.secret);
    const first = (await keys.list())[0]?.lastUsedAt;
    expect(first).toBeDefined();
    await keys.authenticate(v.secret);
    expect((await keys.list())[0]?.lastUsedAt).toBe(first);
    await store.db.query("UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1", [v.key.id]);
    await keys.authenticate(v.secret);
    expect(Date.parse((await keys.list())[0]!.lastUsedAt!)).toBeGreaterThan(Date.now() - 30_000);
  });

  it("binds agent keys to an existing agent, and only agent keys", async () => {
    await expect(keys.create({ name: "a", role: "agent" })).rejects.toEqual(serviceError("invalid_argument", "agent_id"));
    await expect(keys.create({ name: "a", role: "viewer", agentId })).rejects.toEqual(serviceError("invalid_argument", "agent_id"));
    await expect(keys.create({ name: "a", role: "agent", agentId: randomUUID() })).rejects.toEqual(serviceError("invalid_argument", "agent_id"));
    await expect(keys.create({ name: "a", role: "agent", agentId: "not-a-uuid" })).rejects.toEqual(serviceError("invalid_argument", "agent_id"));
    expect(await keys.list()).toEqual([]);
  });

  it("refuses to revoke the last active admin key, and unknown ids are not found", async () => {
    const a1 = await keys.create({ name: "a1", role: "admin" });
    await expect(keys.revoke(a1.key.id)).rejects.toEqual(serviceError("conflict", "id"));
    const a2 = await keys.create({ name: "a2", role: "admin" });
    await keys.revoke(a1.key.id);
    await expect(keys.revoke(a2.key.id)).rejects.toEqual(serviceError("conflict", "id"));
    await expect(keys.revoke(randomUUID())).rejects.toEqual(serviceError("not_found", "id"));
    await expect(keys.revoke("nope")).rejects.toEqual(serviceError("not_found", "id"));
  });

  it("two admins revoking each other at once leave one admin key active", async () => {
    const a1 = await keys.create({ name: "a1", role: "admin" });
    const a2 = await keys.create({ name: "a2", role: "admin" });
    const results = await Promise.allSettled([keys.revoke(a1.key.id), keys.revoke(a2.key.id)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const active = (await keys.list()).filter((k) => k.role === "admin" && !k.revokedAt);
    expect(active).toHaveLength(1);
  });

  it("bootstrap without a key generates an admin key once", async () => {
    const generated = await keys.bootstrapAdmin();
    expect(generated).toMatch(/^apex_/);
    expect(await keys.authenticate(generated!)).toMatchObject({ role: "admin" });
    expect(await keys.bootstrapAdmin()).toBeUndefined();
    expect(await keys.list()).toHaveLength(1);
  });

  it("replicas bootstrapping at once generate a single admin key", async () => {
    const results = await Promise.all([new ApiKeyStore(store.db).bootstrapAdmin(), new ApiKeyStore(store.db).bootstrapAdmin(), keys.bootstrapAdmin()]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    expect(await keys.list()).toHaveLength(1);
  });

  it("bootstrap with APEX_BOOTSTRAP_ADMIN_KEY registers that key once; a revoked one stays revoked", async () => {
    const chosen = `my-team-admin-${randomUUID()}`;
    expect(await keys.bootstrapAdmin(chosen)).toBeUndefined();
    expect(await keys.bootstrapAdmin(chosen)).toBeUndefined();
    const [listed] = await keys.list();
    expect(listed).toMatchObject({ role: "admin", name: "bootstrap-admin", prefix: chosen.slice(0, 4) });
    const principal = await keys.authenticate(chosen);
    expect(principal).toMatchObject({ role: "admin" });
    await keys.create({ name: "successor", role: "admin" });
    await keys.revoke(principal!.keyId);
    await keys.bootstrapAdmin(chosen);
    expect(await keys.authenticate(chosen)).toBeUndefined();
  });

  it("a bootstrap key too short to be safe is refused, naming the variable", async () => {
    await expect(keys.bootstrapAdmin("short")).rejects.toThrow(/APEX_BOOTSTRAP_ADMIN_KEY/);
    await expect(keys.bootstrapAdmin(`with space ${"x".repeat(30)}`)).rejects.toThrow(/APEX_BOOTSTRAP_ADMIN_KEY/);
    expect(await keys.list()).toEqual([]);
  });
});

describe("role table", () => {
  it("matches the seed's RBAC: admin all; operator manages, approves, reads; viewer reads; agent submits and reads", () => {
    expect([...rolePermissions.admin].sort()).toEqual([...permissions].sort());
    expect([...rolePermissions.operator].sort()).toEqual(["agents:read", "agents:write", "approvals:decide", "approvals:read", "budgets:write", "dags:cancel", "dags:read"]);
    expect([...rolePermissions.viewer].sort()).toEqual(["agents:read", "approvals:read", "dags:read"]);
    expect([...rolePermissions.agent].sort()).toEqual(["agents:read", "dags:read", "dags:submit"]);
    expect(can("viewer", "dags:submit")).toBe(false);
    expect(can("operator", "api_keys:manage")).toBe(false);
  });

  it("is the table docs/api.md shows", () => {
    const doc = readFileSync(path.join(__dirname, "../../docs/api.md"), "utf8");
    const rows = doc.split("\n").filter((line) => /^\| `[a-z_]+:[a-z]+`/.test(line));
    const documented = Object.fromEntries(roles.map((r) => [r, [] as string[]]));
    for (const line of rows) {
      const cells = line.split("|").slice(1, -1).map((c) => c.trim());
      const permission = /`([^`]+)`/.exec(cells[0]!)![1]!;
      roles.forEach((role, i) => {
        if (cells[i + 1] !== "") documented[role]!.push(permission);
      });
    }
    expect(rows).toHaveLength(permissions.length);
    for (const role of roles) expect(documented[role]!.sort()).toEqual([...rolePermissions[role]].sort());
  });

  it("scopes agent keys to their agent and refuses an agent key without one", () => {
    expect(agentScope({ keyId: "k", role: "agent", agentId: "a" })).toEqual({ agentId: "a" });
    expect(agentScope({ keyId: "k", role: "operator" })).toBeUndefined();
    expect(() => agentScope({ keyId: "k", role: "agent" })).toThrow(/no agent id/);
  });

  it("hashes keys as SHA-256 hex", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
