/**
 * The chaos run's traffic through the HTTP API: a steady stream of DAG submissions, an approver
 * (another key than the submitter's) for the python tool calls, a reader of DAGs and /readyz, and
 * the bad-input probe (NUL and lone surrogates in every text field, expecting 400).
 */
import type { DagSubmission } from "../engine/apex-client";
import type { ChaosApi } from "./http-client";
import { markerOf, type AnswerKind } from "./provider";
import { sleep } from "./wait";

export interface SubmittedDag {
  readonly name: string;
  readonly id: string;
  readonly tasks: number;
  readonly acceptedAt: number;
}

/**
 * DAG n: an OpenAI and an Anthropic call (every fourth answers with a NUL, every fourth with a lone
 * surrogate), a text_stats tool over the OpenAI answer and, every fifth DAG when the sandbox is
 * hardened, a python snippet printing a NUL (a tool call an operator approves).
 */
export function chaosDag(agentId: string, name: string, n: number, withPython: boolean): DagSubmission {
  const llm = (id: string, model: string, answer: AnswerKind) => ({
    id,
    kind: "llm" as const,
    model,
    prompt: `${markerOf(name, id, answer)}: answer in one word`,
    // A hung provider call ends well within the run; room for retries around the breaker's probes.
    timeout_ms: 8_000,
    max_attempts: 5,
  });
  const tasks: DagSubmission["tasks"] = [
    llm("ask_openai", "openai/gpt-4o-mini", n % 4 === 1 ? "nul" : "plain"),
    llm("ask_anthropic", "anthropic/claude-3-5-haiku", n % 4 === 3 ? "surrogate" : "plain"),
    { id: "stats", kind: "tool", tool: "text_stats", depends_on: ["ask_openai"], args: { text: "{{tasks.ask_openai.output}}" } },
  ];
  if (withPython && n % 5 === 0) {
    tasks.push({ id: "nul_tool", kind: "tool", tool: "python", args: { code: 'import sys; sys.stdout.write("tool a\\x00b")' }, timeout_ms: 20_000 });
  }
  return { agent_id: agentId, name, tasks };
}

export class Workload {
  readonly accepted: SubmittedDag[] = [];
  /** Submissions answered otherwise than 201, by status ("none": no answer). */
  readonly refused = new Map<string, number>();
  approvals = 0;
  /** Submitting; then approving and reading go on until stop(). */
  private running = true;
  private approving = true;
  private loops: Promise<void>[] = [];
  private n = 0;

  constructor(
    private readonly api: ChaosApi,
    private readonly keys: { readonly submitter: string; readonly approver: string },
    private readonly agentId: string,
    private readonly runTag: string,
    private readonly dagsPerSecond: number,
    private readonly withPython: boolean,
  ) {}

  get submittedTasks(): number {
    return this.accepted.reduce((s, d) => s + d.tasks, 0);
  }

  start(): void {
    this.loops = [this.submitLoop(), this.approveLoop(), this.readLoop()];
  }

  async stopSubmitting(): Promise<void> {
    this.running = false;
    await this.loops[0];
  }

  /** Ends the approver and reader too. */
  async stop(): Promise<void> {
    this.running = false;
    this.approving = false;
    await Promise.all(this.loops);
  }

  private async submitLoop(): Promise<void> {
    const intervalMs = 1000 / this.dagsPerSecond;
    let next = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (this.running) {
      const n = this.n++;
      const name = `${this.runTag}-${n}`;
      const dag = chaosDag(this.agentId, name, n, this.withPython);
      // Submissions are not serialised: one stuck behind an outage does not stop the stream.
      const p = this.submit(name, dag).finally(() => inFlight.delete(p));
      inFlight.add(p);
      next += intervalMs;
      await sleep(Math.max(0, next - Date.now()));
    }
    await Promise.all(inFlight);
  }

  private async submit(name: string, dag: DagSubmission): Promise<void> {
    const res = await this.api.request("POST", "/v1/dags", this.keys.submitter, dag);
    if (res.status === 201) {
      this.accepted.push({ name, id: (res.body as { id: string }).id, tasks: dag.tasks.length, acceptedAt: Date.now() });
    } else {
      const key = res.status === undefined ? "none" : String(res.status);
      this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
    }
  }

  private async approveLoop(): Promise<void> {
    while (this.approving) {
      const res = await this.api.request("GET", "/v1/approvals?status=pending", this.keys.approver);
      const pending = res.status === 200 ? ((res.body as { approvals?: { id: string }[] }).approvals ?? []) : [];
      for (const a of pending) {
        const decided = await this.api.request("POST", `/v1/approvals/${a.id}/approve`, this.keys.approver, { reason: "chaos run" });
        if (decided.status === 200) this.approvals++;
      }
      await sleep(300);
    }
  }

  /** What clients do meanwhile: read a recent DAG and ask /readyz (5xx on reads count too). */
  private async readLoop(): Promise<void> {
    let i = 0;
    while (this.approving) {
      const recent = this.accepted.at(-1 - (i++ % 5));
      if (recent) await this.api.request("GET", `/v1/dags/${recent.id}`, this.keys.submitter);
      await this.api.request("GET", "/readyz", undefined);
      await sleep(250);
    }
  }
}

export interface BadInputResult {
  readonly sent: number;
  /** Answers other than 400, e.g. `POST /v1/dags name NUL: 500`. */
  readonly wrong: string[];
}

/** NUL and lone surrogates in every text field of the submission and agent APIs: each must be a 400. */
export async function probeBadInputs(api: ChaosApi, key: string, agentId: string): Promise<BadInputResult> {
  const bad = { nul: "a\u0000b", surrogate: "a\ud800b" };
  const llmTask = { id: "t", kind: "llm", model: "openai/gpt-4o-mini", prompt: "hello" };
  const toolTask = { id: "t", kind: "tool", tool: "text_stats", args: { text: "hello" } };
  const dag = (over: Record<string, unknown>, task: Record<string, unknown> = llmTask) => ({ agent_id: agentId, name: "chaos-bad-input", tasks: [task], ...over });
  const cases: [string, string, unknown][] = [];
  for (const [kind, s] of Object.entries(bad)) {
    cases.push(
      [`/v1/agents`, `agent name ${kind}`, { name: s }],
      [`/v1/agents`, `agent description ${kind}`, { name: "chaos-bad-description", description: s }],
      [`/v1/dags`, `name ${kind}`, dag({ name: s })],
      [`/v1/dags`, `input value ${kind}`, dag({ input: { topic: s } })],
      [`/v1/dags`, `input key ${kind}`, dag({ input: { [s]: "x" } })],
      [`/v1/dags`, `nested input ${kind}`, dag({ input: { deep: [{ v: s }] } })],
      [`/v1/dags`, `prompt ${kind}`, dag({}, { ...llmTask, prompt: s })],
      [`/v1/dags`, `system ${kind}`, dag({}, { ...llmTask, system: s })],
      [`/v1/dags`, `tool args value ${kind}`, dag({}, { ...toolTask, args: { text: s } })],
      [`/v1/dags`, `tool args key ${kind}`, dag({}, { ...toolTask, args: { [s]: "x", text: "y" } })],
    );
  }
  const wrong: string[] = [];
  for (const [route, what, body] of cases) {
    // JSON.stringify escapes NUL as \u0000 and a lone surrogate as \ud800: what a client sends.
    const res = await api.send("POST", route, key, JSON.stringify(body));
    if (res.status !== 400) wrong.push(`POST ${route} ${what}: ${res.status ?? "no answer"}`);
  }
  return { sent: cases.length, wrong };
}
