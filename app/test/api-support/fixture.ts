/**
 * The world the API tests run in: a migrated store (real api_keys table), the real ApiKeyStore,
 * two agents A and B, one key per caller kind (the agent key is bound to agent A) and a revoked
 * key, over the in-memory service double.
 */
import { randomUUID } from "node:crypto";
import type { ApiDeps } from "../../src/api/deps";
import { ApiKeyStore } from "../../src/auth/keys";
import type { Agent } from "../../src/service/types";
import { openMigratedDb, type MigratedDb, type StoreKind } from "../helpers/db";
import { InMemoryApexServiceDouble } from "./in-memory-service";

export const callers = ["anonymous", "revoked", "admin", "operator", "viewer", "agent"] as const;
export type Caller = (typeof callers)[number];

export interface ApiFixture {
  readonly store: MigratedDb;
  readonly keys: ApiKeyStore;
  readonly service: InMemoryApexServiceDouble;
  readonly deps: ApiDeps;
  /** The agent the agent key is bound to. */
  readonly agentA: Agent;
  readonly agentB: Agent;
  readonly tokens: Readonly<Record<Caller, string | undefined>>;
  readonly keyIds: Readonly<Record<Exclude<Caller, "anonymous">, string>>;
  close(): Promise<void>;
}

export async function createApiFixture(kind: StoreKind = "pglite", extra: Partial<ApiDeps> = {}): Promise<ApiFixture> {
  const store = await openMigratedDb(kind);
  const keys = new ApiKeyStore(store.db);
  const service = new InMemoryApexServiceDouble();
  const agent = async (name: string): Promise<Agent> => {
    const id = randomUUID();
    const { rows } = await store.db.query<{ created_at: Date }>(
      `INSERT INTO agents (id, name) VALUES ($1, $2) RETURNING created_at`,
      [id, name],
    );
    const a: Agent = { id, name, createdAt: new Date(rows[0]!.created_at).toISOString() };
    service.agents.set(id, a);
    return a;
  };
  const agentA = await agent(`agent-a-${id6()}`);
  const agentB = await agent(`agent-b-${id6()}`);

  const admin = await keys.create({ name: "admin", role: "admin" });
  const operator = await keys.create({ name: "operator", role: "operator" });
  const viewer = await keys.create({ name: "viewer", role: "viewer" });
  const agentKey = await keys.create({ name: "agent-a", role: "agent", agentId: agentA.id });
  const revoked = await keys.create({ name: "revoked-admin", role: "admin" });
  await keys.revoke(revoked.key.id);

  return {
    store,
    keys,
    service,
    deps: { service, keys, ...extra },
    agentA,
    agentB,
    tokens: {
      anonymous: undefined,
      revoked: revoked.secret,
      admin: admin.secret,
      operator: operator.secret,
      viewer: viewer.secret,
      agent: agentKey.secret,
    },
    keyIds: { revoked: revoked.key.id, admin: admin.key.id, operator: operator.key.id, viewer: viewer.key.id, agent: agentKey.key.id },
    close: () => store.close(),
  };
}

function id6(): string {
  return randomUUID().slice(0, 6);
}
