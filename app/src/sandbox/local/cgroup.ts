import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sandboxGroupName } from "../identity";

/**
 * Per-run cgroup (v1) for the local sandbox driver: memory, CPU quota and PID cap for one run,
 * nested under the worker's own cgroup in each controller so sandboxes also count against the
 * worker's limits. cgroup v2 needs a delegated subtree and is not handled here: the driver falls
 * back to rlimits there and says so in the result.
 */

const controllers = ["memory", "cpu", "pids"] as const;
type Controller = (typeof controllers)[number];

export interface CgroupLimits {
  readonly memoryBytes: number;
  readonly cpuCores: number;
  readonly pidsMax: number;
}

/** Where this process may create per-run cgroups: one parent directory per controller. */
export interface CgroupV1Support {
  readonly version: 1;
  readonly parents: Readonly<Record<Controller, string>>;
}

const cfsPeriodUs = 100_000;

/** The worker's own cgroup path per v1 controller, from /proc/self/cgroup. */
function ownCgroupPaths(procSelfCgroup: string): Partial<Record<Controller, string>> {
  const out: Partial<Record<Controller, string>> = {};
  for (const line of procSelfCgroup.split("\n")) {
    const [, list, path] = line.split(":");
    if (list === undefined || path === undefined) continue;
    for (const c of list.split(",")) {
      if ((controllers as readonly string[]).includes(c)) out[c as Controller] = path;
    }
  }
  return out;
}

/**
 * Finds writable cgroup v1 memory, cpu and pids hierarchies and creates `sandboxGroupName` parents
 * in them. Returns undefined (with the reason) when any is missing or not writable.
 */
export function detectCgroupV1(root = "/sys/fs/cgroup"): { support?: CgroupV1Support; reason?: string } {
  let own: Partial<Record<Controller, string>>;
  try {
    own = ownCgroupPaths(readFileSync("/proc/self/cgroup", "utf8"));
  } catch (err) {
    return { reason: `cannot read /proc/self/cgroup: ${(err as Error).message}` };
  }
  const parents: Partial<Record<Controller, string>> = {};
  for (const c of controllers) {
    const ownPath = own[c];
    const mount = join(root, c);
    if (ownPath === undefined || !existsSync(join(mount, "cgroup.procs"))) {
      return { reason: `cgroup v1 controller "${c}" is not mounted at ${mount}` };
    }
    const parent = join(mount, ownPath, sandboxGroupName);
    try {
      mkdirSync(parent, { recursive: true });
    } catch (err) {
      return { reason: `cannot create ${parent}: ${(err as Error).message}` };
    }
    parents[c] = parent;
  }
  return { support: { version: 1, parents: parents as Record<Controller, string> } };
}

/** One run's cgroup in every controller. Create, attach the sandbox's processes, then remove. */
export class RunCgroup {
  readonly dirs: Readonly<Record<Controller, string>>;

  private constructor(dirs: Record<Controller, string>) {
    this.dirs = dirs;
  }

  static create(support: CgroupV1Support, limits: CgroupLimits): RunCgroup {
    const name = `run-${process.pid}-${randomBytes(6).toString("hex")}`;
    const dirs = {} as Record<Controller, string>;
    for (const c of controllers) {
      dirs[c] = join(support.parents[c], name);
      mkdirSync(dirs[c]);
    }
    const cg = new RunCgroup(dirs);
    try {
      cg.write("memory", "memory.limit_in_bytes", String(limits.memoryBytes));
      // Without a memsw limit the program could spill into swap instead of being stopped.
      if (existsSync(join(dirs.memory, "memory.memsw.limit_in_bytes"))) {
        cg.write("memory", "memory.memsw.limit_in_bytes", String(limits.memoryBytes));
      }
      cg.write("cpu", "cpu.cfs_period_us", String(cfsPeriodUs));
      cg.write("cpu", "cpu.cfs_quota_us", String(Math.round(limits.cpuCores * cfsPeriodUs)));
      cg.write("pids", "pids.max", String(limits.pidsMax));
    } catch (err) {
      void cg.remove();
      throw err;
    }
    return cg;
  }

  private write(c: Controller, file: string, value: string): void {
    writeFileSync(join(this.dirs[c], file), value);
  }

  /** Moves a process (not its existing children) into every controller of this cgroup. */
  attach(pid: number): void {
    for (const c of controllers) this.write(c, "cgroup.procs", String(pid));
  }

  pids(): number[] {
    const seen = new Set<number>();
    for (const c of controllers) {
      try {
        for (const l of readFileSync(join(this.dirs[c], "cgroup.procs"), "utf8").split("\n")) {
          const n = Number.parseInt(l, 10);
          if (Number.isInteger(n) && n > 0) seen.add(n);
        }
      } catch {
        // Already removed.
      }
    }
    return [...seen];
  }

  /** True when the kernel's OOM killer fired inside this cgroup. */
  oomKilled(): boolean {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.dirs.memory, "memory.oom_control"), "utf8"));
      if (m?.[1] !== undefined) return Number(m[1]) > 0;
      return Number(readFileSync(join(this.dirs.memory, "memory.failcnt"), "utf8")) > 0;
    } catch {
      return false;
    }
  }

  /** SIGKILLs everything left in the cgroup until it is empty (bounded). */
  async killAll(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      await sleep(20);
    }
  }

  /**
   * Kills what is left and removes the cgroup. Processes of a torn-down PID namespace take a moment
   * to be reaped, so removal retries for a few seconds, then once more in the background.
   */
  async remove(): Promise<void> {
    await this.killAll();
    const deadline = Date.now() + 3000;
    let pending: Controller[] = [...controllers];
    while (pending.length > 0) {
      pending = pending.filter((c) => !this.tryRmdir(c));
      if (pending.length === 0) return;
      if (Date.now() > deadline) break;
      await sleep(25);
    }
    setTimeout(() => {
      for (const c of pending) this.tryRmdir(c);
    }, 10_000).unref();
    throw new Error(`cgroup ${pending.map((c) => this.dirs[c]).join(", ")} still busy; retrying in the background`);
  }

  private tryRmdir(c: Controller): boolean {
    try {
      rmdirSync(this.dirs[c]);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return true;
      if (code === "EBUSY") return false;
      throw err;
    }
  }
}
