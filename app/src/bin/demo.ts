/**
 * The demo client: submits a DAG file over the HTTP API (creating its agent when needed), follows
 * it to the end printing each task's progress, then the tokens and cost. A tool task that needs an
 * operator's approval is listed from GET /v1/approvals and, with `approver` set, approved through
 * POST /v1/approvals/:id/approve (the decision is recorded with the key that made it and when).
 * The key that submitted a DAG may not approve it (APEX_APPROVAL_ALLOW_SELF), so the demo approves
 * with a second key, an operator key it creates with its own (admin) key and revokes right after.
 * At the end it prints the budgets that applied to the DAG (limit, spent, remaining) when it had
 * any. A DAG file's top-level `description` is printed for the reader and not sent.
 * Plain fetch, so it shows exactly what any HTTP client does.
 */
import { readFile } from "node:fs/promises";
import type { BudgetJson } from "../api/schemas";
import { httpPaths } from "../contract/services";

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
  budget?: { on_exhausted: string; budgets: BudgetJson[] };
}

/** Nothing answered at the base URL (connection refused, unknown host, ...). */
export class ApexUnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`could not reach Apex at ${baseUrl} (${reason})`);
  }
}

/** Apex answered with an error status; the message names the method and full URL. */
export class ApexHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const networkReasons: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
};

/** Why fetch failed: undici's TypeError("fetch failed") keeps the socket error in `cause` (an AggregateError for several addresses). */
function networkReason(err: unknown): string {
  let cause = (err as { cause?: unknown }).cause ?? err;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const code = (cause as { code?: string }).code;
  return (code && networkReasons[code]) ?? code ?? (cause instanceof Error ? cause.message : String(cause));
}

async function call<T>(opts: DemoOptions, method: string, path: string, body?: unknown): Promise<T> {
  const url = new URL(path, opts.baseUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${opts.apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApexUnreachableError(opts.baseUrl, networkReason(err));
  }
  const text = await res.text();
  if (!res.ok) throw new ApexHttpError(res.status, `${method} ${url.href}: HTTP ${res.status} ${text}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${method} ${url.href}: expected JSON from Apex, got ${JSON.stringify(text.slice(0, 80))}`);
  }
}

async function readDagFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read the DAG file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`the DAG file ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Throws ApexUnreachableError when nothing answers at baseUrl (no key needed). */
export async function assertReachable(baseUrl: string): Promise<void> {
  try {
    await fetch(new URL(httpPaths.health, baseUrl));
  } catch (err) {
    throw new ApexUnreachableError(baseUrl, networkReason(err));
  }
}

/**
 * Approves with a short-lived operator key made by the demo's key (which needs api_keys:manage):
 * the key that submitted the DAG may not approve it itself.
 */
async function approveWithSecondKey(opts: DemoOptions, approvalId: string, print: (line: string) => void): Promise<ApprovalJson> {
  const approver = await call<{ id: string; secret: string }>(opts, "POST", "/v1/api-keys", { name: "demo-approver", role: "operator" });
  print(`    through operator key ${approver.id} (demo-approver): the key that submitted a DAG may not approve it`);
  try {
    return await call<ApprovalJson>({ ...opts, apiKey: approver.secret }, "POST", `/v1/approvals/${approvalId}/approve`, { reason: "approved by npm run demo" });
  } finally {
    await call(opts, "DELETE", `/v1/api-keys/${approver.id}`);
  }
}

const usd = (n: number) => `$${n.toFixed(6)}`;
const tokens = (u: UsageJson) => `${u.input_tokens} in / ${u.output_tokens} out / ${u.cached_tokens} cached`;

/** "DAG budget (total): limit $0.001000, spent $0.000011, remaining $0.000989", in the units the budget limits. */
function budgetLine(b: BudgetJson): string {
  const amount = (dollars: number | null, count: number | null) =>
    [b.limit_usd !== null && dollars !== null ? usd(dollars) : undefined, b.limit_tokens !== null && count !== null ? `${count} tokens` : undefined]
      .filter((part) => part !== undefined)
      .join(" / ");
  const owner = b.scope === "dag" ? "DAG" : b.scope === "agent" ? `agent ${b.scope_id}` : `API key ${b.scope_id}`;
  const reserved = b.reserved_usd > 0 || b.reserved_tokens > 0 ? `, reserved ${amount(b.reserved_usd, b.reserved_tokens)}` : "";
  return `${owner} budget (${b.period}): limit ${amount(b.limit_usd, b.limit_tokens)}, spent ${amount(b.spent_usd, b.spent_tokens)}${reserved}, remaining ${amount(b.remaining_usd, b.remaining_tokens)}`;
}

/** Words in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** A DAG its budget stopped: it failed, and a task's LLM call was refused with budget_exceeded. */
export function stoppedByBudget(view: DagJson): boolean {
  return view.status === "failed" && view.tasks.some((t) => t.status === "failed" && t.error?.startsWith("budget_exceeded:") === true);
}

export async function runDemo(opts: DemoOptions): Promise<DagJson> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { description, ...dag } = await readDagFile(opts.file);
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
  if (typeof description === "string") for (const line of wrap(description, 96)) print(`  ${line}`);

  const seen = new Map<string, string>();
  const announced = new Set<string>();
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const view = await call<DagJson>(opts, "GET", `/v1/dags/${created.id}`);
    for (const t of view.tasks) {
      if (seen.get(t.id) === t.status) continue;
      seen.set(t.id, t.status);
      const extra = t.status === "succeeded" && t.usage.input_tokens + t.usage.output_tokens > 0 ? `  ${tokens(t.usage)}, ${usd(t.usage.cost_usd)}` : "";
      // A skipped task's error already starts with "skipped: ".
      const why = t.error?.startsWith(`${t.status}: `) ? t.error.slice(t.status.length + 2) : t.error;
      print(`  ${t.id.padEnd(12)} ${t.status}${why ? `: ${why}` : ""}${extra}`);
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
        const decided = await approveWithSecondKey(opts, a.id, print);
        print(`  approval ${decided.id} ${decided.status} by key ${decided.decided_by ?? "?"} at ${decided.decided_at ?? "?"}`);
      }
    }
    if (["succeeded", "failed", "cancelled"].includes(view.status)) {
      print(`DAG ${view.id} ${view.status}`);
      print(`  tokens: ${tokens(view.totals)}`);
      print(`  cost:   ${usd(view.totals.cost_usd)}${view.agent_totals ? ` (agent total ${usd(view.agent_totals.cost_usd)})` : ""}`);
      if (view.trace_id) print(`  trace:  ${view.trace_id}`);
      for (const b of view.budget?.budgets ?? []) print(`  budget: ${budgetLine(b)}`);
      return view;
    }
    if (Date.now() > deadline) throw new Error(`DAG ${created.id} at ${opts.baseUrl} did not finish in time (status ${view.status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
