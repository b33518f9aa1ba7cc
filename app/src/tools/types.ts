import type { z } from "zod";
import type { SandboxDriver } from "../sandbox/types";

/** A tool agents can call. Args are validated with `args` before the task is accepted. */
export interface ToolDefinition<A extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly args: A;
  /** Park the task in awaiting_approval until an operator approves. */
  readonly requiresApproval: boolean;
  /** Default time limit; the task's own timeout wins when shorter. */
  readonly timeoutMs?: number;
  run(args: z.infer<A>, ctx: ToolContext): Promise<unknown>;
}

export interface ToolContext {
  readonly sandbox: SandboxDriver;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

export interface ToolRegistry {
  get(name: string): ToolDefinition | undefined;
  list(): readonly ToolDefinition[];
}
