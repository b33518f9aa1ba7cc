/**
 * The LLM provider of the chaos run: the shared fake OpenAI + Anthropic server (the workers' real
 * SDKs call it over HTTP) with per-task accounting. Every chaos prompt carries a marker
 * `chaos-task <dag name> <task id> answer:<kind>`; the provider answers by `kind` (plain text, or
 * text Postgres cannot store: a NUL, a lone surrogate) and counts, per task: requests, requests in
 * flight at once, whole answers written. Like a real provider, an answer to an `Idempotency-Key`
 * it has answered before is a replay, not a new paid call; every other answer is paid.
 */
import { startFakeLlmServer, type FakeApi, type FakeBehaviour, type FakeLlmServer, type FakeRequest } from "../../app/test/fakes/fake-llm-server";

export const answerKinds = ["plain", "nul", "surrogate"] as const;
export type AnswerKind = (typeof answerKinds)[number];

export function markerOf(dagName: string, taskId: string, answer: AnswerKind): string {
  return `chaos-task ${dagName} ${taskId} answer:${answer}`;
}

const markerPattern = /chaos-task (\S+) (\S+) answer:(\w+)/;

/** How long each answer takes: calls are in flight when a worker is killed or Postgres goes away. */
const answerDelayMs = 300;

const answerText: Record<AnswerKind, string> = {
  plain: "ok",
  nul: "ok\u0000 with a NUL",
  surrogate: "ok \ud800 with a lone surrogate",
};

export interface TaskCalls {
  /** Requests received. */
  requests: number;
  /** The paid calls, in the order their answers were written: request arrival and answer time (ms). */
  readonly paid: { readonly at: number; readonly answeredAt: number }[];
  /** Answers to an idempotency key answered before (not paid again). */
  replays: number;
  readonly answeredKeys: Set<string>;
  inFlight: number;
  /** Requests that arrived while another request of the same task was still in flight. */
  concurrent: number;
}

export type ProviderMode = "normal" | "error500" | "hang";

const outage: Record<Exclude<ProviderMode, "normal">, FakeBehaviour> = {
  error500: { kind: "error", status: 500, message: "chaos: provider outage" },
  hang: { kind: "hang" },
};

export class ChaosProvider {
  /** Keyed `<dag name>/<task id>`. */
  readonly calls = new Map<string, TaskCalls>();
  /** Responses by HTTP status (500s during the provider fault). */
  readonly statuses = new Map<number, number>();
  /** Requests without a chaos marker (none expected). */
  unmarked = 0;
  /** Answers sent, by kind of text. */
  readonly answersByKind = new Map<AnswerKind, number>();
  private mode: ProviderMode = "normal";

  private fake!: FakeLlmServer;

  private constructor() {}

  static async start(): Promise<ChaosProvider> {
    const provider = new ChaosProvider();
    provider.fake = await startFakeLlmServer({
      answerFor: (_api: FakeApi, body: unknown) => provider.answerFor(body),
      onSettled: (request, outcome) => provider.settled(request, outcome),
    });
    return provider;
  }

  get openaiBaseUrl(): string {
    return this.fake.openaiBaseUrl;
  }

  get anthropicBaseUrl(): string {
    return this.fake.anthropicBaseUrl;
  }

  setMode(mode: ProviderMode): void {
    this.mode = mode;
  }

  count(status: number): number {
    return this.statuses.get(status) ?? 0;
  }

  close(): Promise<void> {
    return this.fake.close();
  }

  private keyOf(body: unknown): { key: string; answer: AnswerKind } | undefined {
    const m = markerPattern.exec(JSON.stringify(body));
    if (!m) return undefined;
    const answer = (answerKinds as readonly string[]).includes(m[3]!) ? (m[3] as AnswerKind) : "plain";
    return { key: `${m[1]}/${m[2]}`, answer };
  }

  private answerFor(body: unknown): FakeBehaviour {
    const marked = this.keyOf(body);
    if (!marked) this.unmarked++;
    else {
      const calls = this.calls.get(marked.key) ?? { requests: 0, paid: [], replays: 0, answeredKeys: new Set<string>(), inFlight: 0, concurrent: 0 };
      this.calls.set(marked.key, calls);
      calls.requests++;
      if (calls.inFlight > 0) calls.concurrent++;
      calls.inFlight++;
    }
    if (this.mode !== "normal") return outage[this.mode];
    const kind = marked?.answer ?? "plain";
    this.answersByKind.set(kind, (this.answersByKind.get(kind) ?? 0) + 1);
    return { kind: "success", text: answerText[marked?.answer ?? "plain"], delayMs: answerDelayMs, usage: { input: 12, output: 3 } };
  }

  private settled(request: FakeRequest, outcome: { status?: number; answered: boolean }): void {
    if (outcome.status !== undefined) this.statuses.set(outcome.status, (this.statuses.get(outcome.status) ?? 0) + 1);
    const marked = this.keyOf(request.body);
    const calls = marked && this.calls.get(marked.key);
    if (!calls) return;
    calls.inFlight--;
    if (!outcome.answered) return;
    const idempotencyKey = request.headers["idempotency-key"];
    if (typeof idempotencyKey === "string" && calls.answeredKeys.has(idempotencyKey)) {
      calls.replays++;
      return;
    }
    if (typeof idempotencyKey === "string") calls.answeredKeys.add(idempotencyKey);
    calls.paid.push({ at: request.at, answeredAt: Date.now() });
  }
}
