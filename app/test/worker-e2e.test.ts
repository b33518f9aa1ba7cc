/**
 * End to end through the real wiring: apex-local (HTTP + gRPC API and a worker in one process,
 * real LLM gateway with the local provider, real tool registry) on ephemeral ports, driven by the
 * demo client over HTTP with examples/research.json (its python task waits for an operator's
 * approval, which the demo gives as admin); on PGlite with in-process coordination and on Postgres
 * with Redis. Plus the worker's metrics server.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { allMetricNames } from "../src/contract/metrics";
import { runDemo } from "../src/bin/demo";
import { startLocal } from "../src/bin/local";
import { startMetricsServer } from "../src/bin/metrics-server";
import { createTestDatabase, type TestDatabase } from "./helpers/db";

const example = path.resolve(__dirname, "../../examples/research.json");
const adminKey = `apex_test_${"k".repeat(30)}`;

describe.each(["pglite", "postgres"] as const)("apex-local on %s", (kind) => {
  let pg: TestDatabase | undefined;
  afterAll(async () => pg?.drop());

  it("runs examples/research.json over HTTP to completion with tokens and cost", async () => {
    pg = kind === "postgres" ? await createTestDatabase() : undefined;
    const local = await startLocal({
      env: { ...(pg ? { DATABASE_URL: pg.url, REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" } : {}), LOG_LEVEL: "warn" },
      overrides: { httpPort: 0, grpcPort: 0, bootstrapAdminKey: adminKey },
      instanceFile: false,
      redisKeyPrefix: `apex-t-${randomBytes(4).toString("hex")}:`,
    });
    try {
      expect(local.runtime.db.kind).toBe(kind);
      expect(local.runtime.config.redisUrl !== undefined).toBe(kind === "postgres");
      const lines: string[] = [];
      const startedAt = Date.now();
      const view = await runDemo({
        baseUrl: `http://127.0.0.1:${local.api.httpPort}`,
        apiKey: adminKey,
        file: example,
        print: (l) => lines.push(l),
        timeoutMs: 60_000,
        approver: "admin",
      });
      expect(view.status).toBe("succeeded");
      expect(view.tasks.map((t) => [t.id, t.status])).toEqual([
        ["plan", "succeeded"],
        ["claiming", "succeeded"],
        ["failures", "succeeded"],
        ["costs", "succeeded"],
        ["stats", "succeeded"],
        ["vocabulary", "succeeded"],
        ["report", "succeeded"],
      ]);
      // The python task parked for approval; the demo listed it, approved it as admin, and it ran.
      expect(lines).toContainEqual(expect.stringMatching(/^ {2}vocabulary +awaiting_approval$/));
      expect(lines).toContainEqual(expect.stringMatching(/^ {2}approval [0-9a-f-]{36} pending: tool python for task vocabulary$/));
      expect(lines).toContain("  approving python as admin");
      const base = `http://127.0.0.1:${local.api.httpPort}`;
      const get = async <T>(p: string) => (await (await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as T;
      const { approvals } = await get<{ approvals: Array<{ dag_id: string; task_id: string; tool: string; status: string; decided_by?: string; decided_at?: string; reason?: string }> }>("/v1/approvals?status=approved");
      const recorded = approvals.filter((a) => a.dag_id === view.id);
      expect(recorded).toHaveLength(1);
      // Approved by a second key (the submitting one may not approve its own DAG), revoked after use.
      const { api_keys } = await get<{ api_keys: Array<{ id: string; name: string; role: string; revoked_at?: string }> }>("/v1/api-keys");
      const approverKey = api_keys.find((k) => k.id === recorded[0]?.decided_by);
      expect(approverKey).toMatchObject({ name: "demo-approver", role: "operator", revoked_at: expect.any(String) });
      expect(recorded[0]).toMatchObject({ task_id: "vocabulary", tool: "python", status: "approved", reason: "approved by npm run demo" });
      const decidedAt = Date.parse(recorded[0]!.decided_at ?? "");
      expect(decidedAt).toBeGreaterThanOrEqual(startedAt - 1_000);
      expect(decidedAt).toBeLessThanOrEqual(Date.now() + 1_000);
      // The python program's result reached the report's prompt through the template.
      const vocabulary = (await get<{ tasks: Array<{ id: string; output?: { result?: Record<string, number> } }> }>(`/v1/dags/${view.id}`)).tasks.find((t) => t.id === "vocabulary");
      expect(vocabulary?.output?.result).toMatchObject({ words: expect.any(Number), lexical_diversity: expect.any(Number), top_words_share: expect.any(Number) });
      expect(vocabulary!.output!.result!.words).toBeGreaterThan(0);
      expect(view.totals.input_tokens).toBeGreaterThan(0);
      expect(view.totals.cost_usd).toBeGreaterThan(0);
      const sum = view.tasks.reduce((a, t) => a + t.usage.input_tokens, 0);
      expect(view.totals.input_tokens).toBe(sum);
      expect(lines).toContainEqual(expect.stringMatching(/^DAG [0-9a-f-]{36} succeeded$/));
      expect(lines.join("\n")).toMatch(/cost: {3}\$0\.\d{6}/);
      // A second run reuses the demo agent; the agent's totals grow.
      const again = await runDemo({ baseUrl: `http://127.0.0.1:${local.api.httpPort}`, apiKey: adminKey, file: example, print: () => undefined, approver: "admin" });
      expect(again.agent_totals?.cost_usd).toBeCloseTo(2 * view.totals.cost_usd, 8);
      // Invalid DAGs over HTTP: 400 with a JSON error naming the field and the problem.
      const post = async (body: unknown) => {
        const res = await fetch(`${base}/v1/dags`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; field?: string } } };
      };
      const agentId = (await (await fetch(`${base}/v1/agents`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { agents: Array<{ id: string }> };
      const task = (id: string, deps: string[]) => ({ id, kind: "llm", model: "local/echo", prompt: "p", depends_on: deps });
      const cyclic = await post({ agent_id: agentId.agents[0]!.id, name: "bad", tasks: [task("a", ["b"]), task("b", ["a"])] });
      expect(cyclic.status).toBe(400);
      expect(cyclic.body.error).toMatchObject({ code: "invalid_argument", field: "tasks" });
      expect(cyclic.body.error.message).toMatch(/cycle: (a -> b -> a|b -> a -> b)/);
      const unknownDep = await post({ agent_id: agentId.agents[0]!.id, name: "bad", tasks: [task("a", ["zz"])] });
      expect(unknownDep.status).toBe(400);
      expect(unknownDep.body.error.field).toBe("tasks[0].depends_on[0]");
      // Without a key the API refuses.
      await expect(runDemo({ baseUrl: `http://127.0.0.1:${local.api.httpPort}`, apiKey: "apex_wrong_key_wrong_key_wrong", file: example, print: () => undefined })).rejects.toThrow(/401/);
    } finally {
      await local.close(2_000);
    }
  }, 90_000);
});

describe("worker metrics server", () => {
  it("serves the telemetry registry on /metrics and liveness on /healthz", async () => {
    let healthy = true;
    const server = await startMetricsServer(0, () => healthy, "127.0.0.1");
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      for (const name of ["apex_tasks_total", "apex_worker_utilization", "apex_task_duration_seconds"]) {
        expect(allMetricNames).toContain(name);
        expect(text).toContain(`# TYPE ${name}`);
      }
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      healthy = false;
      expect((await fetch(`${base}/healthz`)).status).toBe(503);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
