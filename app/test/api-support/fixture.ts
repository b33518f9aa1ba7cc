/**
 * The world the API tests run in: a migrated store (real api_keys table), the real ApiKeyStore,
 * two agents A and B, one key per caller kind (the agent key is bound to agent A) and a revoked
 * key. The service is either the real StoreApexService with a real Worker (test tools from
 * helpers/engine-doubles) or the in-memory double, behind the same helpers, and every service
 * call is recorded so tests can assert a refused request reached nothing.
 */
import { randomUUID } from "node:crypto";
import type { ApiDeps } from "../../src/api/deps";
import { ApiKeyStore } from "../../src/auth/keys";
import { Worker } from "../../src/engine/worker";
import { modelCheckFromEnv, type ModelCheck } from "../../src/llm/model-check";
import { StoreApexService } from "../../src/service/apex-service";
import type { Agent, ApexService, DagStatus, Principal } from "../../src/service/types";
import { openMigratedDb, type MigratedDb, type StoreKind } from "../helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "../helpers/engine-doubles";
import { InMemoryApexServiceDouble } from "./in-memory-service";

export const callers = ["anonymous", "revoked", "admin", "operator", "viewer", "agent"] as const;
export type Caller = (typeof callers)[number];

export interface ApiFixture {
  readonly store: MigratedDb;
  readonly keys: ApiKeyStore;
  /** The service as the transports see it (calls recorded in `calls`). */
  readonly service: ApexService;
  /** Set when the fixture runs on the in-memory double (for tests that drive events by hand). */
  readonly double?: InMemoryApexServiceDouble;
  readonly deps: ApiDeps;
  /** Names of the ApexService methods the transports called, in order. */
  readonly calls: string[];
  /** The agent the agent key is bound to. */
  readonly agentA: Agent;
  readonly agentB: Agent;
  readonly tokens: Readonly<Record<Caller, string | undefined>>;
  readonly keyIds: Readonly<Record<Exclude<Caller, "anonymous">, string>>;
  /** A DAG of the agent that stays unfinished. */
  runningDag(agentId: string): Promise<string>;
  /** A DAG of the agent that has finished, and how. */
  finishedDag(agentId: string): Promise<{ id: string; status: DagStatus }>;
  /** A pending approval of a tool task of the agent. */
  pendingApproval(agentId: string): Promise<string>;
  /** The API key id a DAG was submitted with. */
  submittedBy(dagId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly store?: StoreKind;
  /** "real": StoreApexService + Worker (default); "double": the in-memory service double. */
  readonly service?: "real" | "double";
  readonly deps?: Partial<ApiDeps>;
  /** The real service's model check. Default: an environment without provider keys (only `local`). */
  readonly models?: ModelCheck;
}

/** Internal principal for seeding through the service, as an admin key would. */
const seeder: Principal = { keyId: "fixture-seeder", role: "admin" };

export async function createApiFixture(options: FixtureOptions = {}): Promise<ApiFixture> {
  const store = await openMigratedDb(options.store ?? "pglite");
  const keys = new ApiKeyStore(store.db);
  const world = options.service === "double" ? doubleWorld(store) : await realWorld(store, options.models ?? modelCheckFromEnv({}));
  const calls: string[] = [];
  const service = recordCalls(world.service, calls);

  const agentA = await world.service.createAgent({ name: `agent-a-${randomUUID().slice(0, 6)}` });
  const agentB = await world.service.createAgent({ name: `agent-b-${randomUUID().slice(0, 6)}` });
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
    ...(world.double ? { double: world.double } : {}),
    deps: { service, keys, ...options.deps },
    calls,
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
    runningDag: world.runningDag,
    finishedDag: world.finishedDag,
    pendingApproval: world.pendingApproval,
    submittedBy: world.submittedBy,
    async close() {
      await world.close();
      await store.close();
    },
  };
}

interface World {
  readonly service: ApexService;
  readonly double?: InMemoryApexServiceDouble;
  runningDag(agentId: string): Promise<string>;
  finishedDag(agentId: string): Promise<{ id: string; status: DagStatus }>;
  pendingApproval(agentId: string): Promise<string>;
  submittedBy(dagId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

async function realWorld(store: MigratedDb, models: ModelCheck): Promise<World> {
  const tools = testTools();
  const service = new StoreApexService({ db: store.db, events: store.events, tools, models });
  // Enough slots that long-sleeping tasks never keep an approval-gated task from being claimed.
  const worker = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { concurrency: 64, leaseMs: 10_000 });
  await worker.start();

  const submit = async (agentId: string, tasks: unknown[]) =>
    (await service.submitDag({ agent_id: agentId, name: "fixture", input: { topic: "roles" }, tasks }, seeder)).id;
  const waitFor = async (id: string, done: (status: DagStatus) => boolean): Promise<DagStatus> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { status } = await service.getDag(id);
      if (done(status)) return status;
      if (Date.now() > deadline) throw new Error(`fixture DAG ${id} is still ${status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  return {
    service,
    runningDag: (agentId) => submit(agentId, [{ id: "t1", kind: "tool", tool: "sleep", args: { key: randomUUID(), ms: 60_000 } }]),
    async finishedDag(agentId) {
      const id = await submit(agentId, [{ id: "t1", kind: "tool", tool: "sleep", args: { key: randomUUID(), ms: 0 } }]);
      return { id, status: await waitFor(id, (s) => s === "succeeded" || s === "failed") };
    },
    async pendingApproval(agentId) {
      const id = await submit(agentId, [{ id: "t1", kind: "tool", tool: "deploy", args: { target: "staging" } }]);
      await waitFor(id, (s) => s === "awaiting_approval");
      const approval = (await service.listApprovals({ status: "pending" })).find((a) => a.dagId === id);
      if (!approval) throw new Error(`no pending approval for DAG ${id}`);
      return approval.id;
    },
    async submittedBy(dagId) {
      const { rows } = await store.db.query<{ submitted_by: string | null }>("SELECT submitted_by FROM dags WHERE id = $1", [dagId]);
      return rows[0]?.submitted_by ?? undefined;
    },
    async close() {
      await worker.stop(200);
      await service.close();
    },
  };
}

function doubleWorld(store: MigratedDb): World {
  const double = new InMemoryApexServiceDouble();
  // API keys reference agents: keep the double's agents in the real table too.
  const createAgent = double.createAgent.bind(double);
  double.createAgent = async (input) => {
    const agent = await createAgent(input);
    await store.db.query("INSERT INTO agents (id, name) VALUES ($1, $2)", [agent.id, agent.name]);
    return agent;
  };
  return {
    service: double,
    double,
    runningDag: async (agentId) => double.seedDag(agentId).id,
    finishedDag: async (agentId) => {
      const dag = double.seedDag(agentId, "finished", "succeeded");
      return { id: dag.id, status: dag.status };
    },
    pendingApproval: async (agentId) => double.seedApproval(double.seedDag(agentId).id).id,
    submittedBy: async (dagId) => double.submissions.find((s) => s.dagId === dagId)?.principal.keyId,
    close: async () => undefined,
  };
}

function recordCalls<T extends object>(target: T, calls: string[]): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}
