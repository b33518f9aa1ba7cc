/**
 * The real apex-api and two real apex-worker processes (src/bin, default database timeouts, DAG
 * events over Postgres NOTIFY) on a private Postgres cluster, under a steady stream of DAGs
 * submitted over HTTP, while the server kills every connection (pg_terminate_backend) and then
 * shuts down fast (57P01) and stays down for a few seconds. No process exits; the API answers
 * 503 with Retry-After during the outage and never 500; every accepted DAG succeeds once the
 * database is back, with no task left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPrivatePostgres, type PrivatePostgres } from "./helpers/private-postgres";

const adminKey = `apex_test_${"f".repeat(30)}`;
const binDir = path.resolve(__dirname, "../src/bin");

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
}

let pg: PrivatePostgres;
const procs: Proc[] = [];
let baseUrl: string;

function spawnBin(name: string, script: string, env: Record<string, string>): Proc {
  const base = { ...process.env };
  delete base.REDIS_URL; // DAG events and wake-ups go through Postgres NOTIFY, which the faults hit
  const child = spawn(process.execPath, ["--import", "tsx", path.join(binDir, script)], {
    env: { ...base, DATABASE_URL: pg.url, APEX_SANDBOX_HARDENED: "off", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc: Proc = { name, child, lines: [] };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = "";
    stream?.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      proc.lines.push(...parts);
    });
  }
  procs.push(proc);
  return proc;
}

const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

/** Waits (outside a test too) until `cond` holds. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: pg.url, connectionTimeoutMillis: 2_000 });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

beforeAll(async () => {
  pg = await startPrivatePostgres();
  const api = spawnBin("apex-api", "apex-api.ts", { APEX_HTTP_PORT: "0", APEX_GRPC_PORT: "0", APEX_BOOTSTRAP_ADMIN_KEY: adminKey, LOG_LEVEL: "info" });
  // The API migrates; the workers start after it (they would wait for the migration lock anyway).
  await until(() => api.lines.some((l) => l.includes("apex-api listening")) || !alive(api), 30_000, "apex-api to listen");
  const line = api.lines.find((l) => l.includes("apex-api listening"));
  const port = line ? (JSON.parse(line) as { http_port: number }).http_port : undefined;
  expect(port, `apex-api did not start:\n${api.lines.join("\n")}`).toBeTypeOf("number");
  baseUrl = `http://127.0.0.1:${port}`;
  for (const id of ["1", "2"]) {
    const w = spawnBin(`apex-worker-${id}`, "apex-worker.ts", { APEX_METRICS_PORT: "0", APEX_LEASE_MS: "3000", APEX_WORKER_CONCURRENCY: "4", LOG_LEVEL: "info" });
    await until(() => w.lines.some((l) => l.includes("apex-worker running")) || !alive(w), 30_000, "apex-worker to run");
    expect(alive(w), w.lines.join("\n")).toBe(true);
  }
}, 90_000);

afterAll(async () => {
  await Promise.all(
    procs.filter(alive).map(
      (p) =>
        new Promise<void>((resolve) => {
          p.child.once("exit", () => resolve());
          p.child.kill("SIGTERM");
          setTimeout(() => p.child.kill("SIGKILL"), 10_000).unref();
        }),
    ),
  );
  await pg?.destroy();
}, 30_000);

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
}

async function call(method: string, url: string, body?: unknown): Promise<Answer & { json: unknown }> {
  const res = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), json: await res.json().catch(() => undefined) };
}

it("survives pg_terminate_backend and a fast restart mid-workload: no exit, no 500, every DAG succeeds, nothing left running", async () => {
  const agent = await call("POST", "/v1/agents", { name: "db-faults" });
  expect(agent.status).toBe(201);
  const agentId = (agent.json as { id: string }).id;
  const accepted: string[] = [];
  const answers: Answer[] = [];
  let submitting = true;
  let n = 0;
  const submitter = (async () => {
    while (submitting) {
      n++;
      const dag = {
        agent_id: agentId,
        name: `load-${n}`,
        tasks: [
          { id: "a", kind: "llm", model: "local/echo", prompt: `hello ${n}` },
          { id: "b", kind: "llm", model: "local/echo", prompt: "again {{tasks.a.output}}", depends_on: ["a"] },
          { id: "c", kind: "tool", tool: "text_stats", args: { text: "one two three" }, depends_on: ["b"] },
        ],
      };
      const r = await call("POST", "/v1/dags", dag).catch(() => undefined);
      if (r) {
        answers.push(r);
        if (r.status === 201) accepted.push((r.json as { id: string }).id);
      }
      // A read too: GET routes must answer 503, not 500, during the outage as well.
      const list = await call("GET", "/v1/dags?limit=5").catch(() => undefined);
      if (list) answers.push(list);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  const accepted0 = () => accepted.length;
  await expect.poll(accepted0, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(10);

  // 1. Every connection of every process killed from the server side.
  expect(await pg.terminateAll()).toBeGreaterThanOrEqual(3);
  const afterTerminate = accepted.length;
  await expect.poll(accepted0, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(afterTerminate + 10);

  // 2. Fast shutdown (57P01 to every session), down long enough for requests to meet it, then back.
  await pg.stop({ mode: "fast" });
  const outageAnswers = answers.length;
  const downSince = Date.now();
  // An outage of a few seconds, longer than the workers' lease (3 s): their heartbeats and results fail meanwhile.
  await expect
    .poll(() => Date.now() - downSince >= 4_000 && answers.slice(outageAnswers).filter((a) => a.status === 503).length >= 5, { timeout: 20_000, interval: 50 })
    .toBe(true);
  await pg.start();
  const afterRestart = accepted.length;
  await expect.poll(accepted0, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(afterRestart + 10);
  submitting = false;
  await submitter;

  // Every accepted DAG finishes, and succeeds: lost attempts were reclaimed after their lease.
  await expect
    .poll(async () => (await sql<{ n: number }>("SELECT count(*)::int AS n FROM dags WHERE id = ANY($1) AND status <> 'succeeded'", [accepted]))[0]?.n, {
      timeout: 45_000,
      interval: 250,
    })
    .toBe(0);
  expect((await sql<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'running'"))[0]?.n).toBe(0);
  expect((await sql<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE status = 'running'"))[0]?.n).toBe(0);

  const byStatus = new Map<number, number>();
  for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  expect([...byStatus.keys()].filter((s) => ![200, 201, 503].includes(s)), JSON.stringify([...byStatus])).toEqual([]);
  expect(answers.filter((a) => a.status === 503 && a.retryAfter === null)).toEqual([]);
  const lost = (await sql<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE error LIKE 'lease of worker % expired'"))[0]?.n;
  console.log(`db-faults: ${accepted.length} DAGs accepted, answers ${JSON.stringify(Object.fromEntries(byStatus))}, attempts lost to the faults and reclaimed: ${lost}`);
  for (const p of procs) expect(alive(p), `${p.name} exited:\n${p.lines.slice(-30).join("\n")}`).toBe(true);
  expect(procs.flatMap((p) => p.lines).filter((l) => l.includes("Unhandled"))).toEqual([]);
}, 150_000);
