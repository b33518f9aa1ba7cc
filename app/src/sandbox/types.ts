/**
 * Runs one tool program in isolation. Drivers: `local` (child process; bubblewrap namespaces and
 * cgroup limits when hardened), `docker`, `kubernetes`. Limits come from `contract/sandbox.ts`.
 * No shell ever interprets `argv`.
 */
export interface SandboxRequest {
  /** argv[0] is the program; no shell interpolation. */
  readonly argv: readonly string[];
  readonly stdin?: string;
  /** Extra environment; the driver starts from an empty, secret-free environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Hosts the program may reach; default none (network "none"). */
  readonly networkAllowlist?: readonly string[];
}

export interface SandboxResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** Which constraints were really in force for this run (drivers fill it in). */
  readonly limits?: AppliedLimits;
  /** Output beyond the driver's cap was dropped. */
  readonly truncated?: { readonly stdout: boolean; readonly stderr: boolean };
  /** The kernel's OOM killer ended the program (when the driver can tell). */
  readonly oomKilled?: boolean;
  /** The run was ended by the request's AbortSignal. */
  readonly aborted?: boolean;
}

/**
 * What actually enforced each constraint for one run, e.g. `memory: "cgroup-v1"` or
 * `memory: "rlimit-as"`; `"none"` when nothing did. Values are for humans and tests to read.
 */
export interface AppliedLimits {
  readonly isolation: string;
  readonly network: string;
  readonly filesystem: string;
  readonly user: string;
  readonly memory: string;
  readonly cpu: string;
  readonly pids: string;
  readonly capabilities: string;
  /** The syscall filter, e.g. the local driver's own or the runtime's RuntimeDefault profile. */
  readonly seccomp?: string;
}

export interface SandboxDriver {
  readonly name: "local" | "docker" | "kubernetes";
  run(req: SandboxRequest): Promise<SandboxResult>;
}

