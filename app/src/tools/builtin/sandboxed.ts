import type { z } from "zod";
import type { SandboxResult } from "../../sandbox/types";
import type { ToolContext, ToolDefinition } from "../types";
import { ToolError } from "../errors";

const codeRunningTools = new WeakSet<object>();

/**
 * Marks a tool as one that runs caller-supplied code or programs in the sandbox. The worker
 * refuses to start with such a tool when the local sandbox would run it unsandboxed (see
 * sandbox/local/startup-check.ts).
 */
export function codeRunningTool<A extends z.ZodType>(tool: ToolDefinition<A>): ToolDefinition<A> {
  codeRunningTools.add(tool);
  return tool;
}

/** True for a tool marked with `codeRunningTool`. */
export function runsCode(tool: object): boolean {
  return codeRunningTools.has(tool);
}

/** What a sandboxed tool returns to the DAG: the program's output, and its JSON when stdout is JSON. */
export interface ProgramOutput {
  readonly exit_code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly duration_ms: number;
  readonly truncated: boolean;
  /** stdout parsed as JSON, when it is JSON. */
  readonly result?: unknown;
}

const tail = (s: string, n = 2000): string => (s.length > n ? `…${s.slice(-n)}` : s);

/**
 * Runs argv through the worker's sandbox driver and turns the result into a tool output, or a
 * ToolError when the program did not exit 0 (so the task fails and its dependents are skipped).
 */
export async function runInSandbox(
  tool: string,
  ctx: ToolContext,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ProgramOutput> {
  const r: SandboxResult = await ctx.sandbox.run({ argv, env, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  const details = { exit_code: r.exitCode, signal: r.signal, stderr: tail(r.stderr), limits: r.limits };
  if (r.timedOut) throw new ToolError(`${tool}: timed out after ${ctx.timeoutMs} ms`, details);
  if (r.aborted) throw new ToolError(`${tool}: aborted`, details);
  if (r.oomKilled) throw new ToolError(`${tool}: killed for exceeding the memory limit`, details);
  if (r.exitCode !== 0) {
    const how = r.exitCode === null ? `was killed by ${r.signal ?? "a signal"}` : `exited with code ${r.exitCode}`;
    throw new ToolError(`${tool}: program ${how}${r.stderr ? `: ${tail(r.stderr, 500)}` : ""}`, details);
  }
  const out: ProgramOutput = {
    exit_code: 0,
    stdout: r.stdout,
    stderr: r.stderr,
    duration_ms: r.durationMs,
    truncated: Boolean(r.truncated?.stdout || r.truncated?.stderr),
  };
  const trimmed = r.stdout.trim();
  if (trimmed && !out.truncated && (trimmed.startsWith("{") || trimmed.startsWith("["))) {
    try {
      return { ...out, result: JSON.parse(trimmed) as unknown };
    } catch {
      // Not JSON after all: the text is in stdout.
    }
  }
  return out;
}
