/**
 * The error type of a failed attempt (apex_task_errors_total{error_type}, error.type on the
 * task_execution span) comes from the error's class, not from its text: a tool whose message says
 * "timeout" or "sandbox" is still a tool_error, a SandboxError is a sandbox_error whatever it says.
 */
import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { classifyError, executeTask, type ExecutorDeps } from "../src/engine/executor";
import type { ClaimedTask } from "../src/engine/lifecycle";
import { LlmError, type LlmGateway } from "../src/llm/types";
import { SandboxError } from "../src/sandbox/errors";
import type { SandboxDriver } from "../src/sandbox/types";
import type { Db } from "../src/store/db";
import { observeAttempt } from "../src/telemetry/attempt";
import { renderMetrics } from "../src/telemetry/metrics";
import { ToolError } from "../src/tools/errors";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";
import type { ToolDefinition, ToolRegistry } from "../src/tools/types";

const backoff = { baseMs: 10, maxMs: 20 };

function throwingTool(name: string, err: Error): ToolDefinition {
  return { name, description: name, args: z.object({}), requiresApproval: false, run: () => Promise.reject(err) };
}

const tools: ToolRegistry = {
  list: () => [...byName.values()],
  get: (name) => byName.get(name),
};
const byName = new Map<string, ToolDefinition>(
  [
    throwingTool("says_timeout", new ToolError("timeout while reading upstream (exit 1)")),
    throwingTool("says_sandbox", new ToolError("sandbox_dir not writable")),
    throwingTool("sandbox_broke", new SandboxError("container runtime unavailable")),
    throwingTool("says_rate_limited", new Error("rate_limited: upstream said slow down")),
  ].map((t) => [t.name, t]),
);

const failingLlm: LlmGateway = { complete: () => Promise.reject(new Error("timeout in the gateway's own code")) } as unknown as LlmGateway;
// Tool tasks only: the LLM call journal (db) is never reached.
const deps: ExecutorDeps = { db: {} as Db, llm: failingLlm, tools, sandbox: {} as SandboxDriver, backoff };

function toolTask(tool: string): ClaimedTask {
  return {
    dagId: "00000000-0000-0000-0000-000000000001",
    taskId: tool,
    kind: "tool",
    spec: { id: tool, kind: "tool", tool, args: {}, depends_on: [] } as unknown as ClaimedTask["spec"],
    dependsOn: [],
    attempts: 0,
    maxAttempts: 3,
    timeoutMs: 5_000,
    agentId: "a",
    scope: { input: {}, outputs: {} },
    attempt: 1,
    traceContext: null,
    workerId: "w",
  };
}

async function errorTypeOfTool(tool: string) {
  const outcome = await executeTask(deps, toolTask(tool), 1, new AbortController().signal);
  expect(outcome.kind).toBe("failed");
  return outcome.kind === "succeeded" ? undefined : outcome.errorType;
}

describe("attempt error types come from the error's class", () => {
  it("a tool error is a tool_error whatever its message says", async () => {
    expect(await errorTypeOfTool("says_timeout")).toBe("tool_error");
    expect(await errorTypeOfTool("says_sandbox")).toBe("tool_error");
    expect(await errorTypeOfTool("says_rate_limited")).toBe("tool_error");
  });

  it("a SandboxError is a sandbox_error", async () => {
    expect(await errorTypeOfTool("sandbox_broke")).toBe("sandbox_error");
  });

  it("a real time-out is a timeout, a cancel is cancelled, a lost lease is lease_expired", async () => {
    const slow: ToolDefinition = { ...throwingTool("slow", new Error("x")), run: () => new Promise(() => undefined) };
    byName.set("slow", slow);
    const timedOut = await executeTask(deps, { ...toolTask("slow"), timeoutMs: 100 }, 1, new AbortController().signal);
    expect(timedOut).toMatchObject({ kind: "failed", errorType: "timeout" });

    for (const [reason, errorType] of [["cancelled", "cancelled"], ["lease_lost", "lease_expired"]] as const) {
      const abort = new AbortController();
      setTimeout(() => abort.abort(reason), 20);
      expect(await executeTask(deps, toolTask("slow"), 1, abort.signal)).toMatchObject({ kind: "failed", errorType });
    }
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort("shutdown"), 20);
    const handedBack = await executeTask(deps, toolTask("slow"), 1, shutdown.signal);
    expect(handedBack.kind).toBe("rescheduled");
    expect(handedBack.kind === "rescheduled" && handedBack.errorType).toBeUndefined();
  });

  it("LLM errors keep their kind; a non-LLM error on an LLM task is internal", () => {
    for (const kind of ["provider_error", "timeout", "invalid_request", "cancelled"] as const) {
      expect(classifyError(new LlmError(kind, "boom"), "llm", 1, backoff)).toMatchObject({ kind: "failed", errorType: kind });
    }
    expect(classifyError(new LlmError("breaker_open", "open"), "llm", 1, backoff)).toMatchObject({ kind: "deferred", waitingFor: "provider", errorType: "breaker_open" });
    expect(classifyError(new LlmError("rate_limited", "429"), "llm", 1, backoff)).toMatchObject({ kind: "rescheduled", errorType: "rate_limited" });
    expect(classifyError(new Error("timeout: made-up text"), "llm", 1, backoff)).toMatchObject({ kind: "failed", errorType: "internal" });
  });
});

describe("a lost lease is counted once", () => {
  it("the worker that lost it does not count the attempt the reclaiming worker reported", async () => {
    const count = async (error_type: string) =>
      sampleValue(parseExposition((await renderMetrics()).body), "apex_task_errors_total", { error_type }) ?? 0;
    const span = trace.getTracer("test").startSpan("task_execution");
    const before = await count("lease_expired");
    observeAttempt(span, "tool", { kind: "failed", error: "lease lost", errorType: "lease_expired", reportedByReclaimer: true }, 5);
    expect(await count("lease_expired")).toBe(before);
    observeAttempt(span, "tool", { kind: "failed", error: "boom", errorType: "tool_error" }, 5);
    expect(await count("tool_error")).toBe(1);
  });
});
