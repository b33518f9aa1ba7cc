import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { runtimeEnv, sandboxSpec } from "../../contract";
import { SandboxError } from "../errors";
import { sandboxGroupName } from "../identity";
import { CappedOutput, assertValidRequest, defaultMaxOutputBytes } from "../output";
import type { AppliedLimits, SandboxDriver, SandboxRequest, SandboxResult } from "../types";
import { type BwrapSupport, bwrapArgs, bwrapBlockFd, bwrapSeccompFd, detectBwrap } from "./bwrap";
import { type CgroupV1Support, RunCgroup, detectCgroupV1 } from "./cgroup";

export interface LocalSandboxOptions {
  /**
   * `auto` (default): bubblewrap namespaces, seccomp and per-run cgroups when they work on this
   * host; without cgroups, rlimits instead; **without bubblewrap every run is refused** (fails
   * closed; the worker refuses to start when it has a code-running tool, see startup-check.ts).
   * `required`: refuse to construct without bubblewrap and cgroups.
   * `off`: a plain host child process (empty env, time limit, output caps) and rlimits only: no
   * isolation at all, for an operator who chose it knowingly.
   */
  readonly hardened?: "auto" | "required" | "off";
  /** Default `bwrap` from PATH. */
  readonly bwrapPath?: string;
  /** Default `/sys/fs/cgroup`. */
  readonly cgroupRoot?: string;
  /** Default `prlimit` from PATH (util-linux); used when cgroups are unavailable. */
  readonly prlimitPath?: string;
  /** Extra host paths mounted read-only in the hardened sandbox. Default none. */
  readonly readOnlyPaths?: readonly string[];
  /** Cap on each of stdout and stderr. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Called when a run's cgroup could not be removed at once (it is retried in the background). */
  readonly onCleanupError?: (err: Error) => void;
}

/** What the local driver found it can use on this host, decided once at construction. */
export interface LocalCapabilities {
  readonly bwrap?: BwrapSupport;
  readonly cgroup?: CgroupV1Support;
  readonly prlimit?: string;
  /** The mode the driver was built with. */
  readonly mode: "auto" | "required" | "off";
  /** Why a mechanism is not used (for logs and docs). */
  readonly notes: readonly string[];
}

const sandboxPath = "/usr/local/bin:/usr/bin:/bin";
/** How long output may keep arriving after the program exited. */
const stdioDrainMs = 1000;

function findOnPath(cmd: string): string | undefined {
  if (cmd.includes("/")) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

export function detectLocalCapabilities(opts: LocalSandboxOptions = {}): LocalCapabilities {
  const notes: string[] = [];
  const mode = opts.hardened ?? "auto";
  let bwrap: BwrapSupport | undefined;
  let cgroup: CgroupV1Support | undefined;
  if (mode !== "off") {
    const b = detectBwrap(opts.bwrapPath);
    bwrap = b.support;
    if (b.reason) notes.push(`bubblewrap unavailable: ${b.reason}`);
    notes.push(...(b.notes ?? []));
    // Attaching a run to its cgroup without a race needs bwrap's --block-fd.
    if (bwrap) {
      const c = detectCgroupV1(opts.cgroupRoot);
      cgroup = c.support;
      if (c.reason) notes.push(`cgroup limits unavailable: ${c.reason}`);
    }
    if (mode === "required" && (!bwrap || !cgroup)) {
      throw new SandboxError(`local sandbox: hardened mode is required but unavailable: ${notes.join("; ")}`);
    }
  }
  const prlimit = cgroup ? undefined : findOnPath(opts.prlimitPath ?? "prlimit");
  if (!cgroup && !prlimit) notes.push("prlimit not found: no memory or process limits");
  return { mode, ...(bwrap ? { bwrap } : {}), ...(cgroup ? { cgroup } : {}), ...(prlimit ? { prlimit } : {}), notes };
}

/** True when runs would execute as plain host processes: no namespaces, no filesystem or network isolation. */
export function runsUnsandboxed(caps: LocalCapabilities): boolean {
  return caps.bwrap === undefined;
}

/** Why `auto` refuses to run code on this host, and the two ways out. */
export function unsandboxedRefusal(caps: LocalCapabilities): string {
  const why = caps.notes.find((n) => n.startsWith("bubblewrap unavailable")) ?? "bubblewrap unavailable";
  return (
    `local sandbox: refusing to run code unsandboxed (${runtimeEnv.sandboxHardened}=${caps.mode}): ${why}. ` +
    `Install bubblewrap (apt-get install bubblewrap) so tools run isolated, or set ${runtimeEnv.sandboxHardened}=off ` +
    "to run them as plain host processes with the worker's network and filesystem, knowingly"
  );
}

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name;
  return null;
}

/** The local driver: one child process per run, hardened with bubblewrap and cgroups when possible. */
export class LocalSandboxDriver implements SandboxDriver {
  readonly name = "local" as const;
  readonly capabilities: LocalCapabilities;
  private readonly maxOutputBytes: number;
  private readonly readOnlyPaths: readonly string[];
  private readonly onCleanupError: ((err: Error) => void) | undefined;

  constructor(opts: LocalSandboxOptions = {}) {
    this.capabilities = detectLocalCapabilities(opts);
    this.maxOutputBytes = opts.maxOutputBytes ?? defaultMaxOutputBytes;
    this.readOnlyPaths = opts.readOnlyPaths ?? [];
    for (const p of this.readOnlyPaths) {
      if (!p.startsWith("/") || !existsSync(p)) throw new TypeError(`local sandbox: readOnlyPaths entry "${p}" must be an existing absolute path`);
    }
    this.onCleanupError = opts.onCleanupError;
  }

  /** What each run gets on this host; every result carries it. */
  limits(): AppliedLimits {
    const { bwrap, cgroup, prlimit } = this.capabilities;
    const root = process.getuid?.() === 0;
    const { uid } = sandboxSpec.user;
    const hostUid = bwrap ? (bwrap.hostUser?.uid ?? process.getuid?.()) : root ? uid : process.getuid?.();
    const rl = prlimit ? "rlimit" : "none";
    return {
      isolation: bwrap ? "bubblewrap namespaces (user, pid, net, ipc, uts, mount)" : "none (plain child process)",
      network: bwrap ? "none (empty network namespace)" : "host network (not isolated)",
      filesystem: bwrap
        ? `read-only root, tmpfs ${sandboxSpec.tmpfs.path} (${sandboxSpec.tmpfs.sizeBytes} bytes)`
        : "host filesystem (cwd is a fresh temp dir)",
      user: bwrap ? `uid ${uid} in the sandbox, host uid ${hostUid}` : `host uid ${hostUid}`,
      memory: cgroup ? `cgroup-v1 memory.limit_in_bytes=${sandboxSpec.memory.bytes}` : rl === "rlimit" ? `rlimit-as=${sandboxSpec.memory.bytes}` : "none",
      cpu: cgroup ? `cgroup-v1 cfs quota ${sandboxSpec.cpu.cores} core(s)` : rl === "rlimit" ? "rlimit-cpu (seconds of CPU = timeout)" : "none",
      pids: cgroup
        ? `cgroup-v1 pids.max=${sandboxSpec.pidsLimit}`
        : rl === "rlimit" && this.dedicatedUser()
          ? `rlimit-nproc=${sandboxSpec.pidsLimit} (host uid ${hostUid}, shared by concurrent runs)`
          : "none",
      capabilities: bwrap ? "all dropped" : hostUid === 0 ? "root (not dropped)" : "unprivileged user",
      seccomp: bwrap?.seccompFilter
        ? `filter: ${sandboxSpec.seccomp.deniedSyscalls.length} syscalls and new namespaces ${sandboxSpec.seccomp.errno}, other architectures killed`
        : "none",
    };
  }

  /** Runs execute as the contract's uid instead of the worker's (possible when the worker is root). */
  private dedicatedUser(): boolean {
    return process.getuid?.() === 0 && (this.capabilities.bwrap ? this.capabilities.bwrap.hostUser !== undefined : true);
  }

  async run(req: SandboxRequest): Promise<SandboxResult> {
    assertValidRequest(req);
    if (req.networkAllowlist && req.networkAllowlist.length > 0) {
      throw new SandboxError("local sandbox: a network allowlist cannot be enforced by the local driver; use docker or kubernetes");
    }
    if (req.signal.aborted) throw new SandboxError("local sandbox: request aborted before start");
    const { bwrap, cgroup, prlimit } = this.capabilities;
    // Fail closed: only `off` (an operator's explicit choice) runs code without bubblewrap.
    if (this.capabilities.mode !== "off" && runsUnsandboxed(this.capabilities)) throw new SandboxError(unsandboxedRefusal(this.capabilities));
    const started = Date.now();
    const root = process.getuid?.() === 0;
    const hostUser = bwrap ? bwrap.hostUser : root ? sandboxSpec.user : undefined;

    let cmd: string[] = [...req.argv];
    let workdir: string | undefined;
    if (bwrap) {
      const fds = { ...(cgroup ? { blockFd: bwrapBlockFd } : {}), ...(bwrap.seccompFilter ? { seccompFd: bwrapSeccompFd } : {}) };
      cmd = [bwrap.path, ...bwrapArgs({ mapUser: true, readOnlyPaths: this.readOnlyPaths, ...fds }), "--", ...cmd];
    } else {
      workdir = mkdtempSync(join(tmpdir(), `${sandboxGroupName}-`));
      if (hostUser) chownSync(workdir, hostUser.uid, hostUser.gid);
    }
    if (!cgroup && prlimit) {
      const cpuSeconds = Math.max(1, Math.ceil(req.timeoutMs / 1000));
      // RLIMIT_NPROC counts every process of the real uid, so it is only meaningful (and only
      // harmless) when runs get the contract's uid of their own; it never binds root.
      const nproc = this.dedicatedUser() ? [`--nproc=${sandboxSpec.pidsLimit}`] : [];
      cmd = [prlimit, `--as=${sandboxSpec.memory.bytes}`, ...nproc, `--cpu=${cpuSeconds}`, "--", ...cmd];
    }
    const env: Record<string, string> = { PATH: sandboxPath, LANG: "C.UTF-8", HOME: sandboxSpec.tmpfs.path, ...req.env };

    let cg: RunCgroup | undefined;
    try {
      if (cgroup) {
        cg = RunCgroup.create(cgroup, {
          memoryBytes: sandboxSpec.memory.bytes,
          cpuCores: sandboxSpec.cpu.cores,
          pidsMax: sandboxSpec.pidsLimit,
        });
      }
    } catch (err) {
      if (workdir) rmSync(workdir, { recursive: true, force: true });
      throw new SandboxError(`local sandbox: cannot create the run's cgroup: ${(err as Error).message}`, { cause: err });
    }

    const [file, ...args] = cmd as [string, ...string[]];
    const child = spawn(file, args, {
      env,
      cwd: workdir ?? "/",
      detached: true,
      // fd 3: bwrap's block fd (with a cgroup), fd 4: the seccomp filter; "ignore" keeps the numbers.
      stdio: ["pipe", "pipe", "pipe", cg ? "pipe" : "ignore", bwrap?.seccompFilter ? "pipe" : "ignore"],
      ...(hostUser ? { uid: hostUser.uid, gid: hostUser.gid } : {}),
    });

    const stdout = new CappedOutput(this.maxOutputBytes);
    const stderr = new CappedOutput(this.maxOutputBytes);
    child.stdout?.on("data", (c: Buffer) => stdout.push(c));
    child.stderr?.on("data", (c: Buffer) => stderr.push(c));
    child.stdin?.on("error", () => {}); // The program may exit without reading its input.

    let timedOut = false;
    let aborted = false;
    const killAll = (): void => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Group already gone.
        }
      }
      void cg?.killAll();
    };

    const done = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, sig) => {
        killAll(); // No stragglers outlive the program.
        // A descendant that left the process group (only possible without bwrap) can hold the
        // pipes open: give the output a moment to drain, then stop waiting for it.
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve({ code, sig });
        }, stdioDrainMs).unref();
      });
      child.once("close", (code, sig) => resolve({ code, sig }));
    });

    if (bwrap?.seccompFilter) {
      // bwrap reads the filter to EOF before it execs the program; without it, it would wait.
      const filter = child.stdio[bwrapSeccompFd] as Writable;
      filter.on("error", () => {});
      filter.end(bwrap.seccompFilter);
    }
    try {
      if (cg && child.pid !== undefined) {
        try {
          attachTree(cg, child.pid);
        } catch (err) {
          killAll();
          throw new SandboxError(`local sandbox: cannot attach the run to its cgroup: ${(err as Error).message}`, { cause: err });
        }
        const release = child.stdio[bwrapBlockFd] as Writable;
        release.on("error", () => {}); // bwrap closes its end once released.
        release.end("go");
      }
      if (req.stdin !== undefined) child.stdin?.end(req.stdin);
      else child.stdin?.end();

      const timer = setTimeout(() => {
        timedOut = true;
        killAll();
      }, req.timeoutMs);
      const onAbort = (): void => {
        aborted = true;
        killAll();
      };
      req.signal.addEventListener("abort", onAbort, { once: true });
      let exit: { code: number | null; sig: NodeJS.Signals | null };
      try {
        exit = await done;
      } catch (err) {
        throw new SandboxError(`local sandbox: cannot start ${file}: ${(err as Error).message}`, { cause: err });
      } finally {
        clearTimeout(timer);
        req.signal.removeEventListener("abort", onAbort);
      }

      let exitCode = exit.code;
      let signal: string | null = exit.sig;
      // bwrap's init reports a program killed by signal N as exit status 128+N.
      if (bwrap && exitCode !== null && exitCode > 128 && exitCode <= 128 + 64) {
        signal = signalName(exitCode - 128);
        if (signal) exitCode = null;
      }
      const oomKilled = cg?.oomKilled() ?? false;
      return {
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        timedOut,
        durationMs: Date.now() - started,
        limits: this.limits(),
        truncated: { stdout: stdout.truncated, stderr: stderr.truncated },
        oomKilled,
        aborted,
      };
    } finally {
      killAll();
      await cg?.remove().catch((err: unknown) => this.onCleanupError?.(err as Error));
      if (workdir) rmSync(workdir, { recursive: true, force: true });
    }
  }
}

/** Moves a blocked bwrap and whatever it has already cloned into the cgroup; later forks inherit. */
function attachTree(cg: RunCgroup, pid: number): void {
  try {
    cg.attach(pid);
  } catch (err) {
    // Exited already (e.g. bwrap rejected its arguments): the exit status tells the story.
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return;
    throw err;
  }
  let children: string;
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch {
    return; // Exited already.
  }
  for (const c of children.trim().split(/\s+/).filter(Boolean)) attachTree(cg, Number(c));
}
