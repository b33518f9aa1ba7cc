import { z } from "zod";
import type { ToolDefinition } from "../types";
import { codeRunningTool, runInSandbox } from "./sandboxed";

const runCommandArgs = z.strictObject({
  /** Program and arguments, passed to the program as is: no shell, no globbing, no expansion. */
  argv: z
    .array(z.string().max(16 * 1024, "each argument must be at most 16384 characters").refine((s) => !s.includes("\0"), "arguments must not contain NUL"))
    .min(1, "argv must name a program")
    .max(256, "argv must have at most 256 entries")
    .refine((a) => a[0] !== "", "argv[0] must not be empty"),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names must be letters, digits and _"), z.string().max(16 * 1024)).optional(),
});

/** Runs one program with arguments in the sandbox (never through a shell). Needs approval. */
export const runCommandTool: ToolDefinition<typeof runCommandArgs> = codeRunningTool({
  name: "run_command",
  description: "Run a program from the sandbox image with an argv array (no shell), e.g. [\"sort\", \"-u\", \"/tmp/x\"]. Returns stdout, stderr and the exit code.",
  args: runCommandArgs,
  requiresApproval: true,
  run: (args, ctx) => runInSandbox("run_command", ctx, args.argv, args.env ?? {}),
});
