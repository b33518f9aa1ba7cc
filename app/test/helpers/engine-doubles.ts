/**
 * Test doubles for the engine's seams, clearly not the product: a scripted LLM gateway and a
 * small tool registry whose tools sleep, fail on demand and count concurrent executions. They
 * honour AbortSignal like the real ones must.
 */
import { z } from "zod";
import { LlmError, type LlmGateway, type LlmRequest, type LlmResult } from "../../src/llm/types";
import type { SandboxDriver } from "../../src/sandbox/types";
import type { ToolDefinition, ToolRegistry } from "../../src/tools/types";

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("aborted"));
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), reject(new Error("aborted"))), { once: true });
  });
}

/** Counts executions per key and the highest number running at once per key. */
export class ConcurrencyProbe {
  readonly running = new Map<string, number>();
  readonly maxRunning = new Map<string, number>();
  readonly runs = new Map<string, number>();
  async around<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const now = (this.running.get(key) ?? 0) + 1;
    this.running.set(key, now);
    this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
    this.maxRunning.set(key, Math.max(now, this.maxRunning.get(key) ?? 0));
    try {
      return await fn();
    } finally {
      this.running.set(key, (this.running.get(key) ?? 1) - 1);
    }
  }
}

/**
 * `script` decides per call: a result text, or an LlmError to throw. Usage: input tokens =
 * prompt words, output tokens = text words, cost = 1 micro-USD per token.
 */
export class ScriptedGateway implements LlmGateway {
  readonly calls: LlmRequest[] = [];
  constructor(private readonly script: (req: LlmRequest, call: number) => string | LlmError | Promise<string | LlmError> = (r) => `echo: ${r.prompt}`) {}
  async complete(req: LlmRequest): Promise<LlmResult> {
    this.calls.push(req);
    const out = await this.script(req, this.calls.length);
    // As the real gateway does once the breaker lets a call through (the engine journals it there).
    // Its calls cost nothing against budgets (budget tests use the real gateway).
    if (!(out instanceof LlmError && out.kind === "breaker_open")) await req.beforeSend?.({ microUsd: 0, tokens: 0 });
    if (out instanceof LlmError) throw out;
    const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
    const inputTokens = words(req.prompt);
    const outputTokens = words(out);
    return {
      provider: req.model.split("/")[0]!,
      requestModel: req.model,
      responseModel: req.model.split("/")[1]!,
      text: out,
      finishReasons: ["stop"],
      usage: { inputTokens, outputTokens, cachedTokens: 0 },
      costUsd: (inputTokens + outputTokens) / 1e6,
      priceVersion: "test-1",
      latencyMs: 1,
    };
  }
}

export interface TestToolsOptions {
  readonly probe?: ConcurrencyProbe;
  /** sleep tool: how many times a key fails before it succeeds. */
  readonly failuresByKey?: Map<string, number>;
}

export function testTools(opts: TestToolsOptions = {}): ToolRegistry & { starts: Map<string, number> } {
  const probe = opts.probe ?? new ConcurrencyProbe();
  const starts = new Map<string, number>();
  const sleep: ToolDefinition = {
    name: "sleep",
    description: "Sleeps ms, fails the first `failuresByKey` times for its key, returns {key, slept}.",
    args: z.object({ key: z.string(), ms: z.number().int().min(0).max(60_000) }),
    requiresApproval: false,
    async run(args, ctx) {
      const { key, ms } = args as { key: string; ms: number };
      starts.set(key, (starts.get(key) ?? 0) + 1);
      return probe.around(key, async () => {
        await abortableSleep(ms, ctx.signal);
        const left = opts.failuresByKey?.get(key) ?? 0;
        if (left > 0) {
          opts.failuresByKey!.set(key, left - 1);
          throw new Error(`planned failure of ${key}`);
        }
        return { key, slept: ms };
      });
    },
  };
  const deploy: ToolDefinition = {
    name: "deploy",
    description: "Needs an operator's approval; returns the target.",
    args: z.object({ target: z.string().min(1) }),
    requiresApproval: true,
    async run(args) {
      return { deployed: (args as { target: string }).target };
    },
  };
  const hang: ToolDefinition = {
    name: "hang",
    description: "Ignores its AbortSignal and never returns (the engine must still time it out).",
    args: z.object({}),
    requiresApproval: false,
    timeoutMs: 60_000,
    run: () => new Promise(() => undefined),
  };
  const tools = new Map([sleep, deploy, hang].map((t) => [t.name, t]));
  return { get: (n) => tools.get(n), list: () => [...tools.values()], starts };
}

/** The engine never calls the sandbox itself; tools do. A driver that refuses makes that visible. */
export const refusingSandbox: SandboxDriver = {
  name: "local",
  run: () => Promise.reject(new Error("test tools do not use the sandbox")),
};
