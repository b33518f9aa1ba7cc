/**
 * The demo client: submits a DAG file over the HTTP API (creating its agent when needed), follows
 * it to the end printing each task's progress, then the tokens and cost. A tool task that needs an
 * operator's approval is listed from GET /v1/approvals and, with `approver` set, approved through
 * POST /v1/approvals/:id/approve (the decision is recorded with the key that made it and when).
 * Plain fetch, so it shows exactly what any HTTP client does.
 */
import { readFile } from "node:fs/promises";

export interface DemoOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** A DAG body without agent_id (or with one: then that agent is used). */
  readonly file: string;
  readonly agentName?: string;
  readonly timeoutMs?: number;
  readonly print?: (line: string) => void;
  /**
   * Who the key belongs to (e.g. "admin"), said in the output when the demo approves a pending
   * tool call with it. Unset: pending approvals are listed with the command to approve them, and
   * the demo waits for someone to decide.
   */
  readonly approver?: string;
}

interface ApprovalJson {
  id: string;
  dag_id: string;
  task_id: string;
  tool: string;
  status: string;
  decided_by?: string;
  decided_at?: string;
}

interface UsageJson {
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

interface DagJson {
  id: string;
  status: string;
  tasks: Array<{ id: string; status: string; error?: string; usage: UsageJson; attempts: unknown[] }>;
  totals: UsageJson;
  agent_totals?: UsageJson;
  trace_id?: string;
}

async function call<T>(opts: DemoOptions, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, opts.baseUrl), {
    method,
    headers: { authorization: `Bearer ${opts.apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const usd = (n: number) => `$${n.toFixed(6)}`;
const tokens = (u: UsageJson) => `${u.input_tokens} in / ${u.output_tokens} out / ${u.cached_tokens} cached`;

export async function runDemo(opts: DemoOptions): Promise<DagJson> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dag = JSON.parse(await readFile(opts.file, "utf8")) as Record<string, unknown>;
  let agentId = typeof dag.agent_id === "string" ? dag.agent_id : undefined;
  if (!agentId) {
    const name = opts.agentName ?? "demo-researcher";
    const { agents } = await call<{ agents: Array<{ id: string; name: string }> }>(opts, "GET", "/v1/agents");
    agentId =
      agents.find((a) => a.name === name)?.id ??
      (await call<{ id: string }>(opts, "POST", "/v1/agents", { name, description: "Agent of the example research DAG" })).id;
  }
  const created = await call<{ id: string; status: string }>(opts, "POST", "/v1/dags", { ...dag, agent_id: agentId });
  print(`submitted DAG ${created.id} (${String(dag.name)}) for agent ${agentId}`);

  const seen = new Map<string, string>();
  const announced = new Set<string>();
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const view = await call<DagJson>(opts, "GET", `/v1/dags/${created.id}`);
    for (const t of view.tasks) {
      if (seen.get(t.id) === t.status) continue;
      seen.set(t.id, t.status);
      const extra = t.status === "succeeded" && t.usage.input_tokens + t.usage.output_tokens > 0 ? `  ${tokens(t.usage)}, ${usd(t.usage.cost_usd)}` : "";
      print(`  ${t.id.padEnd(12)} ${t.status}${t.error ? `: ${t.error}` : ""}${extra}`);
    }
    if (view.tasks.some((t) => t.status === "awaiting_approval")) {
      const { approvals } = await call<{ approvals: ApprovalJson[] }>(opts, "GET", "/v1/approvals?status=pending");
      for (const a of approvals.filter((x) => x.dag_id === created.id && !announced.has(x.id))) {
        announced.add(a.id);
        print(`  approval ${a.id} pending: tool ${a.tool} for task ${a.task_id}`);
        if (opts.approver === undefined) {
          print(`    approve with: curl -X POST -H "Authorization: Bearer <operator or admin key>" ${new URL(`/v1/approvals/${a.id}/approve`, opts.baseUrl).href}`);
          continue;
        }
        print(`  approving ${a.tool} as ${opts.approver}`);
        const decided = await call<ApprovalJson>(opts, "POST", `/v1/approvals/${a.id}/approve`, { reason: "approved by npm run demo" });
        print(`  approval ${decided.id} ${decided.status} by key ${decided.decided_by ?? "?"} at ${decided.decided_at ?? "?"}`);
      }
    }
    if (["succeeded", "failed", "cancelled"].includes(view.status)) {
      print(`DAG ${view.id} ${view.status}`);
      print(`  tokens: ${tokens(view.totals)}`);
      print(`  cost:   ${usd(view.totals.cost_usd)}${view.agent_totals ? ` (agent total ${usd(view.agent_totals.cost_usd)})` : ""}`);
      if (view.trace_id) print(`  trace:  ${view.trace_id}`);
      return view;
    }
    if (Date.now() > deadline) throw new Error(`DAG ${created.id} did not finish in time (status ${view.status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
