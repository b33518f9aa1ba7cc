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
}

export interface SandboxDriver {
  readonly name: "local" | "docker" | "kubernetes";
  run(req: SandboxRequest): Promise<SandboxResult>;
}
