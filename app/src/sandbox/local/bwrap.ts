import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { sandboxSpec } from "../../contract";
import { hostSeccompArch, seccompFilterBytes } from "./seccomp";

/**
 * bubblewrap (`bwrap`) invocation for the hardened local sandbox: new user, PID, network, IPC,
 * UTS and mount namespaces; a read-only root built from a few host directories; a read-only /dev
 * whose shm is the capped tmpfs; tmpfs /tmp with the contract's size; uid/gid from the contract;
 * every capability dropped; the seccomp filter of seccomp.ts.
 */

/** File descriptor bwrap blocks on until the driver has placed it in the run's cgroup. */
export const bwrapBlockFd = 3;
/** File descriptor bwrap reads the compiled seccomp filter from. */
export const bwrapSeccompFd = 4;

/** Host device nodes the sandbox's /dev gets (what bwrap's own `--dev` binds, minus tty and pts). */
const devices = ["null", "zero", "full", "random", "urandom"];

/** Directories that make up the sandbox's root (read-only). /etc is limited to what ld.so needs. */
const systemDirs = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
const etcFiles = [
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/alternatives",
  "/etc/localtime",
  "/etc/passwd",
  "/etc/group",
  "/etc/nsswitch.conf",
];

export interface BwrapOptions {
  /** Extra host paths to expose read-only (e.g. an interpreter outside /usr). */
  readonly readOnlyPaths?: readonly string[];
  /** Map the program to the contract's uid/gid inside the user namespace. */
  readonly mapUser: boolean;
}

function rootArgs(extra: readonly string[]): string[] {
  const args: string[] = [];
  for (const dir of systemDirs) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    // Merged-/usr systems have /bin -> usr/bin: recreate the link rather than binding twice.
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  for (const f of etcFiles) args.push("--ro-bind-try", f, f);
  for (const p of extra) args.push("--ro-bind", p, p);
  return args;
}

/**
 * A /dev built by hand instead of bwrap's `--dev`, whose tmpfs has no size limit and stays
 * writable (a program could fill memory through /dev or /dev/shm): the few device nodes, the fd
 * links, /dev/shm as a link into the capped /tmp (so POSIX shared memory and semaphores share its
 * cap), and the whole of /dev remounted read-only.
 */
function devArgs(): string[] {
  const args = ["--size", "65536", "--tmpfs", "/dev"];
  for (const d of devices) args.push("--dev-bind", `/dev/${d}`, `/dev/${d}`);
  args.push("--symlink", "/proc/self/fd", "/dev/fd");
  ["stdin", "stdout", "stderr"].forEach((name, fd) => args.push("--symlink", `/proc/self/fd/${fd}`, `/dev/${name}`));
  args.push("--symlink", sandboxSpec.tmpfs.path, "/dev/shm", "--remount-ro", "/dev");
  return args;
}

/** The bwrap argv (without the program) for one run. */
export function bwrapArgs(opts: BwrapOptions & { blockFd?: number; seccompFd?: number }): string[] {
  const { uid, gid } = sandboxSpec.user;
  const args = [
    "--unshare-all",
    "--unshare-user",
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "sandbox",
    ...rootArgs(opts.readOnlyPaths ?? []),
    "--proc",
    "/proc",
    ...devArgs(),
    "--size",
    String(sandboxSpec.tmpfs.sizeBytes),
    "--tmpfs",
    sandboxSpec.tmpfs.path,
    "--dir",
    sandboxSpec.workdir,
    "--remount-ro",
    "/",
    "--chdir",
    sandboxSpec.workdir,
    "--cap-drop",
    "ALL",
  ];
  if (opts.mapUser) args.push("--uid", String(uid), "--gid", String(gid));
  if (opts.blockFd !== undefined) args.push("--block-fd", String(opts.blockFd));
  if (opts.seccompFd !== undefined) args.push("--seccomp", String(opts.seccompFd));
  return args;
}

export interface BwrapSupport {
  readonly path: string;
  /** The compiled filter each run loads; absent on an architecture the filter does not cover. */
  readonly seccompFilter?: Buffer;
  /** Host uid/gid bwrap runs as: the contract's user when the worker is root, else the worker's. */
  readonly hostUser?: { readonly uid: number; readonly gid: number };
}

/**
 * Checks that bwrap exists and can really build the sandbox here (it cannot, for example, in an
 * unprivileged container without user namespaces), seccomp filter included. Tries the contract's
 * host uid first when root.
 */
export function detectBwrap(bwrapPath = "bwrap"): { support?: BwrapSupport; reason?: string; notes?: string[] } {
  const arch = hostSeccompArch();
  const seccompFilter = arch ? seccompFilterBytes(arch) : undefined;
  const notes = arch ? [] : [`no seccomp filter for architecture ${process.arch} (only x64 and arm64)`];
  const candidates: (BwrapSupport["hostUser"] | undefined)[] =
    process.getuid?.() === 0 ? [sandboxSpec.user, undefined] : [undefined];
  let reason = "";
  for (const hostUser of candidates) {
    // The probe feeds the filter on stdin (fd 0); runs use a pipe of their own.
    const r = spawnSync(bwrapPath, [...bwrapArgs({ mapUser: true, ...(seccompFilter ? { seccompFd: 0 } : {}) }), "--", "true"], {
      env: { PATH: "/usr/bin:/bin" },
      timeout: 10_000,
      cwd: "/",
      encoding: "utf8",
      ...(seccompFilter ? { input: seccompFilter } : {}),
      ...(hostUser ? { uid: hostUser.uid, gid: hostUser.gid } : {}),
    });
    if (r.error) {
      reason = `cannot run ${bwrapPath}: ${r.error.message}`;
      if ((r.error as NodeJS.ErrnoException).code === "ENOENT") break;
      continue;
    }
    if (r.status === 0) return { support: { path: bwrapPath, ...(seccompFilter ? { seccompFilter } : {}), ...(hostUser ? { hostUser } : {}) }, notes };
    reason = `${bwrapPath} failed (exit ${r.status}): ${r.stderr.trim()}`;
  }
  return { reason, notes };
}
