import { runtimeEnv } from "../../contract";
import { type LocalCapabilities, runsUnsandboxed, unsandboxedRefusal } from "./driver";

/**
 * What a worker decides at startup about its local sandbox, given the tools it registers that run
 * code (python, run_command): refuse to start when `auto` would have to run them unsandboxed,
 * warn loudly when the operator chose `off`, warn about any weaker mechanism.
 */
export interface LocalSandboxStartup {
  /** Set: the worker must not start; the text names the variable and the fix. */
  readonly refusal?: string;
  /** Set: log it at startup (warn level), with the driver's notes. */
  readonly warning?: string;
}

export function checkLocalSandboxStartup(caps: LocalCapabilities, codeRunningTools: readonly string[]): LocalSandboxStartup {
  const tools = codeRunningTools.length > 0 ? codeRunningTools.join(", ") : "none registered";
  if (caps.mode === "off") {
    return {
      warning:
        `${runtimeEnv.sandboxHardened}=off: SANDBOX DISABLED. Code-running tools (${tools}) run as plain host processes ` +
        "with the worker's network, filesystem and (as root) privileges; only the environment is scrubbed. Use only for trusted code.",
    };
  }
  if (runsUnsandboxed(caps)) {
    if (codeRunningTools.length > 0) return { refusal: `${unsandboxedRefusal(caps)} (code-running tools: ${tools})` };
    return { warning: `local sandbox unavailable (${caps.notes.join("; ")}); no code-running tool is registered, so nothing will run in it` };
  }
  if (caps.notes.length > 0) return { warning: "local sandbox runs with reduced isolation" };
  return {};
}
