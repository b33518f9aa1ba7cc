import { z } from "zod";
import type { ToolDefinition } from "../types";
import { codeRunningTool, runInSandbox } from "./sandboxed";

/** argv entries and env values are limited by the kernel's MAX_ARG_STRLEN (128 KiB); stay well under. */
const maxCodeBytes = 64 * 1024;
const maxInputBytes = 64 * 1024;

const pythonArgs = z.strictObject({
  code: z
    .string()
    .min(1, "code must not be empty")
    .refine((s) => Buffer.byteLength(s) <= maxCodeBytes, `code must be at most ${maxCodeBytes} bytes`),
  /** Any JSON value, readable in the program as json.loads(os.environ["APEX_TOOL_INPUT"]). */
  input: z
    .unknown()
    .optional()
    .refine((v) => v === undefined || Buffer.byteLength(JSON.stringify(v) ?? "") <= maxInputBytes, `input must serialise to at most ${maxInputBytes} bytes of JSON`),
});

/**
 * Runs a Python snippet with python3 inside the sandbox (no network, read-only root, limits from
 * the contract). Untrusted code: an operator approves each run. Print JSON to return structured data.
 */
export const pythonTool: ToolDefinition<typeof pythonArgs> = codeRunningTool({
  name: "python",
  description:
    "Run a Python 3 snippet in the sandbox (no network). The optional `input` is available as json.loads(os.environ['APEX_TOOL_INPUT']). Printing JSON returns it as `result`.",
  args: pythonArgs,
  requiresApproval: true,
  run: (args, ctx) =>
    runInSandbox("python", ctx, ["python3", "-I", "-c", args.code], args.input === undefined ? {} : { APEX_TOOL_INPUT: JSON.stringify(args.input) }),
});
