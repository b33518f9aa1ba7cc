/**
 * Attacks on the hardened local sandbox (bubblewrap + seccomp + cgroup v1), each asserted
 * contained. Every test checks the observable the attack would change if its defence were gone:
 * the errno a syscall returns without the filter differs from EPERM, a host listener the test can
 * reach itself, a file the host can read, a cap the old uncapped /dev/shm did not have.
 * Needs root, bubblewrap and writable cgroup v1 (the CI machine); skipped with a warning elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, sandboxSpec } from "../src/contract";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import { allGone } from "./helpers/host-processes";
import { forkBomb } from "./helpers/sandbox-programs";
import { hostSeccompArch, syscallNumbers } from "../src/sandbox/local/seccomp";
import type { SandboxRequest, SandboxResult } from "../src/sandbox/types";

const repoRoot = path.resolve(__dirname, "../..");
const mib = 1 << 20;

const py = (code: string, extra: Partial<SandboxRequest> = {}): SandboxRequest => ({
  argv: ["python3", "-I", "-c", code],
  timeoutMs: 20_000,
  signal: new AbortController().signal,
  ...extra,
});

/** Whether the host itself can open a TCP connection (the control for "blocked inside"). */
function hostCanConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 });
    s.on("error", () => {});
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

const json = <T>(r: SandboxResult): T => {
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as T;
};

const driver = new LocalSandboxDriver({ hardened: "auto" });
const { bwrap, cgroup, notes } = driver.capabilities;
const hardened = bwrap?.seccompFilter !== undefined && cgroup !== undefined;
if (!hardened) console.warn(`skipped sandbox attack tests: ${notes.join("; ") || "no seccomp filter for this architecture"}`);
const attack = hardened ? it : it.skip;

describe("sandbox attacks (hardened local driver)", () => {
  let listener: Server;
  let port = 0;
  beforeAll(async () => {
    listener = createServer((s) => {
      s.on("error", () => {}); // a probe that hangs up at once resets the connection
      s.end("reachable\n");
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(() => listener.close());

  attack("host files: /etc/shadow, /root and the repository do not exist inside, directly or through a symlink", async () => {
    const targets = ["/etc/shadow", "/root", path.join(repoRoot, "package.json"), repoRoot];
    for (const t of targets) expect(existsSync(t), `host control: ${t}`).toBe(true);
    const r = await driver.run(
      py(`
import json, os
targets = ${JSON.stringify(targets)}
out = {}
for t in targets:
    try:
        out[t] = "read %d" % len(os.listdir(t) if os.path.isdir(t) else open(t, "rb").read())
    except OSError as e:
        out[t] = e.errno
    link = "/tmp/l%d" % len(out)
    os.symlink(t, link)
    try:
        open(link, "rb").read(); out["link " + t] = "read"
    except OSError as e:
        out["link " + t] = e.errno
for t in ["/proc/1/root/etc/shadow", "/proc/self/root/etc/shadow", "/tmp/../../../../etc/shadow"]:
    try:
        open(t, "rb").read(); out[t] = "read"
    except OSError as e:
        out[t] = e.errno
print(json.dumps(out))
`),
    );
    const out = json<Record<string, unknown>>(r);
    expect(Object.keys(out)).toHaveLength(targets.length * 2 + 3);
    for (const [k, v] of Object.entries(out)) expect([k, v]).toEqual([k, 2]); // ENOENT: not there at all
  });

  attack("writes outside the tmpfs: /, /usr, /etc, /sandbox, /dev and /proc/sys fail with EROFS; nothing reaches the host", async () => {
    const name = `apex-attack-${process.pid}-${Date.now()}`;
    const targets = ["/", "/usr", "/usr/bin", "/etc", sandboxSpec.workdir, "/dev"].map((d) => path.join(d, name));
    const r = await driver.run(
      py(`
import json
out = {}
for t in ${JSON.stringify([...targets, "/proc/sys/kernel/hostname"])}:
    try:
        open(t, "w").write("x"); out[t] = "wrote"
    except OSError as e:
        out[t] = e.errno
print(json.dumps(out))
`),
    );
    const out = json<Record<string, unknown>>(r);
    for (const t of targets) expect([t, out[t]]).toEqual([t, 30]); // EROFS, not a mere permission error
    expect([13, 30]).toContain(out["/proc/sys/kernel/hostname"]); // EACCES: owned by the host's root
    for (const t of targets) expect(existsSync(t), t).toBe(false);
  });

  attack("network: Postgres, Redis and any listener on the host's 127.0.0.1 are refused; the metadata address has no route", async () => {
    const ports = { postgres: 5432, redis: 6379, test: port };
    const hostReach = Object.fromEntries(await Promise.all(Object.entries(ports).map(async ([k, p]) => [k, await hostCanConnect("127.0.0.1", p)] as const)));
    expect(hostReach.test).toBe(true); // the control: the host reaches what the sandbox must not
    if (!hostReach.postgres || !hostReach.redis) console.warn(`host control: ${JSON.stringify(hostReach)} (only reachable ones prove anything)`);
    const r = await driver.run(
      py(`
import json, socket
out = {}
for name, (host, port) in ${JSON.stringify({ ...Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, ["127.0.0.1", p]])), metadata: ["169.254.169.254", 80] })}.items():
    try:
        socket.create_connection((host, port), timeout=3).close(); out[name] = "connected"
    except OSError as e:
        out[name] = e.errno if e.errno is not None else type(e).__name__
out["ifaces"] = sorted(n for _, n in socket.if_nameindex())
print(json.dumps(out))
`),
    );
    const out = json<Record<string, unknown>>(r);
    expect(out).toEqual({ postgres: 111, redis: 111, test: 111, metadata: 101, ifaces: ["lo"] }); // ECONNREFUSED, ENETUNREACH
  });

  attack("fork bomb: stopped by pids.max before the contract's 100 processes", async () => {
    const r = await driver.run(py(forkBomb));
    expect(r.stdout).toContain("error 11"); // EAGAIN from the pids controller
    const forks = Number(/forks (\d+)/.exec(r.stdout)?.[1]);
    expect(forks).toBeGreaterThan(50);
    expect(forks).toBeLessThan(sandboxSpec.pidsLimit);
  });

  attack("memory bomb: the OOM killer ends it inside the run's cgroup", async () => {
    const r = await driver.run(py("s = b'x' * (700 << 20); print(len(s))"));
    expect(r.oomKilled).toBe(true);
    expect(r.signal).toBe("SIGKILL");
    expect(r.stdout).toBe("");
  });

  attack("CPU burn: three spinning processes get at most one core between them and die at the timeout", async () => {
    const marker = `apex-cpu-burn-${process.pid}-${Date.now()}`;
    // Each spinner reports its own CPU time every 100 ms; the last reports, summed, over the wall
    // time since they started are the cores the run really got. Without the quota, on a machine
    // with 2+ idle cores, that would exceed 1; a busy machine may not have that core to spare, so
    // the run's cgroup is also read while it spins: the quota it has and the processes it holds.
    const cpuParent = cgroup!.parents.cpu;
    const seen = { quota: new Set<string>(), maxProcs: 0 };
    const watch = setInterval(() => {
      for (const name of readdirSync(cpuParent).filter((n) => n.startsWith(`run-${process.pid}-`))) {
        try {
          // Processes are attached only after the limits are written: an empty cgroup may still be mid-setup.
          const procs = readFileSync(path.join(cpuParent, name, "cgroup.procs"), "utf8").trim();
          if (procs === "") continue;
          seen.quota.add(`${readFileSync(path.join(cpuParent, name, "cpu.cfs_quota_us"), "utf8").trim()}/${readFileSync(path.join(cpuParent, name, "cpu.cfs_period_us"), "utf8").trim()}`);
          seen.maxProcs = Math.max(seen.maxProcs, procs.split("\n").length);
        } catch {
          // Removed at the end of the run.
        }
      }
    }, 50);
    const r = await driver.run(
      py(
        `
# ${marker}
import os, sys, time
t0 = time.time()
for i in range(3):
    if os.fork() == 0:
        while True:
            deadline = time.process_time() + 0.1
            while time.process_time() < deadline: pass
            sys.stdout.write("%d %.4f %.4f\\n" % (i, time.process_time(), time.time() - t0)); sys.stdout.flush()
time.sleep(60)
`,
        { timeoutMs: 4_000 },
      ),
    ).finally(() => clearInterval(watch));
    expect(r.timedOut).toBe(true);
    expect([...seen.quota]).toEqual([`${sandboxSpec.cpu.cores * 100_000}/100000`]);
    expect(seen.maxProcs).toBeGreaterThanOrEqual(4); // python and its three spinners, in that cgroup
    const last = new Map<string, { cpu: number; wall: number }>();
    for (const line of r.stdout.trim().split("\n")) {
      const [i, cpu, wall] = line.split(" ");
      if (i !== undefined && cpu !== undefined && wall !== undefined) last.set(i, { cpu: Number(cpu), wall: Number(wall) });
    }
    expect(last.size).toBe(3);
    const cpu = [...last.values()].reduce((a, v) => a + v.cpu, 0);
    const wall = Math.max(...[...last.values()].map((v) => v.wall));
    expect(cpu / wall).toBeLessThan(sandboxSpec.cpu.cores * 1.15);
    await allGone(marker);
  });

  attack("timeout: a grandchild that called setsid() dies with the run", async () => {
    const marker = `apex-setsid-${process.pid}-${Date.now()}`;
    const r = await driver.run(
      py(
        `
import os, time
# ${marker}
if os.fork() == 0:
    if os.fork() == 0:
        os.setsid()
        time.sleep(60)
        os._exit(0)
    os._exit(0)
print("started", flush=True)
time.sleep(60)
`,
        { timeoutMs: 3_000 },
      ),
    );
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toContain("started");
    await allGone(marker);
  });

  attack("environment: the worker's DATABASE_URL, REDIS_URL, APEX_* and provider keys are visible nowhere inside", async () => {
    const secrets: Record<string, string> = {
      [runtimeEnv.databaseUrl]: "postgres://apex:attack-db-secret@127.0.0.1:5432/apex",
      [runtimeEnv.redisUrl]: "redis://:attack-redis-secret@127.0.0.1:6379",
      [runtimeEnv.openaiApiKey]: "sk-attack-openai-secret",
      APEX_ATTACK_PROBE: "attack-apex-secret",
    };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    try {
      const r = await driver.run(
        py(`
import json, os
environs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try: environs[d] = open("/proc/%s/environ" % d, "rb").read().decode(errors="replace")
        except OSError as e: environs[d] = e.errno
print(json.dumps({"env": dict(os.environ), "proc": environs}))
`),
      );
      const out = json<{ env: Record<string, string>; proc: Record<string, unknown> }>(r);
      expect(Object.keys(out.env).sort()).toEqual(["HOME", "LANG", "PATH", "PWD"]); // PWD from bwrap's --chdir
      for (const v of Object.values(secrets)) expect(r.stdout).not.toContain(v);
      expect(Object.keys(out.proc).length).toBeGreaterThan(0);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  attack("host /proc: only the sandbox's own processes are visible, none of the host's", async () => {
    const hostPids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).length;
    expect(hostPids).toBeGreaterThan(10); // the control: the host has plenty
    const r = await driver.run(
      py(`
import json, os
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try: procs[d] = open("/proc/%s/cmdline" % d, "rb").read().replace(b"\\0", b" ").decode().strip()
        except OSError: procs[d] = "?"
print(json.dumps({"procs": procs, "self": os.getpid()}))
`),
    );
    const out = json<{ procs: Record<string, string>; self: number }>(r);
    expect(Object.keys(out.procs).length).toBeLessThanOrEqual(3); // bwrap's init, python (and a reaper)
    expect(out.self).toBeLessThanOrEqual(3);
    for (const cmd of Object.values(out.procs)) {
      expect(cmd).not.toMatch(/vitest|postgres|redis|node/);
    }
    expect(out.procs[String(process.pid)] ?? "").not.toContain("vitest");
  });

  attack("/dev/shm shares the 64 MiB cap of /tmp (it took 400 MB before)", async () => {
    const r = await driver.run(
      py(`
import json, os
def fill(path, limit):
    n = 0
    try:
        with open(path, "wb") as f:
            while n < limit:
                f.write(b"x" * ${mib}); f.flush(); n += ${mib}
    except OSError as e:
        return [n, e.errno]
    return [n, None]
first = fill("/tmp/a", 40 * ${mib})
shm = fill("/dev/shm/b", 200 * ${mib})
print(json.dumps({"tmp": first, "shm": shm, "link": os.path.realpath("/dev/shm")}))
`),
    );
    const out = json<{ tmp: [number, number | null]; shm: [number, number | null]; link: string }>(r);
    expect(out.tmp).toEqual([40 * mib, null]);
    expect(out.shm[1]).toBe(28); // ENOSPC
    expect(out.tmp[0] + out.shm[0]).toBeLessThanOrEqual(sandboxSpec.tmpfs.sizeBytes);
    expect(out.link).toBe(sandboxSpec.tmpfs.path);
  });

  attack("ptrace, mount, unshare of a user namespace and the rest of the deny list get EPERM from seccomp", async () => {
    const arch = hostSeccompArch()!;
    const nr = syscallNumbers[arch];
    // Without the filter, on this kernel, these return something else: keyctl an id, add_key and
    // request_key/perf_event_open/io_uring_setup EFAULT, bpf EINVAL, userfaultfd (user-mode only)
    // an fd, mount/umount2 ENOENT (path looked up before the capability check), setns EBADF,
    // unshare/clone(CLONE_NEWUSER) ENOSPC (bwrap's --disable-userns), ptrace(TRACEME) 0.
    const r = await driver.run(
      py(`
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
nr = ${JSON.stringify(nr)}
out = {}
def sc(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr[name]), *[ctypes.c_long(a) for a in args])
    out[name] = errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()) if r < 0 else "ok"
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
r = libc.mount(b"none", b"/nonexistent-apex", b"tmpfs", 0, None)
out["mount"] = errno.errorcode.get(ctypes.get_errno()) if r < 0 else "ok"
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
r = libc.umount2(b"/nonexistent-apex", 0)
out["umount2"] = errno.errorcode.get(ctypes.get_errno()) if r < 0 else "ok"
sc("keyctl", 0, -3, 0)
sc("add_key", 0, 0, 0, 0, 0)
sc("request_key", 0, 0, 0, 0)
sc("bpf", 9999, 0, 0)
sc("userfaultfd", 0x80000 | 1)
sc("perf_event_open", 0, 0, -1, -1, 0)
sc("setns", -1, 0)
sc("io_uring_setup", 0, 0)
sc("kexec_load", 0, 0, 0, 0)
sc("init_module", 0, 0, 0)
sc("finit_module", -1, 0, 0)
sc("delete_module", 0, 0)
libc.unshare.argtypes = [ctypes.c_int]
out["unshare(CLONE_NEWUSER)"] = errno.errorcode.get(ctypes.get_errno()) if libc.unshare(0x10000000) < 0 else "ok"
out["unshare(CLONE_NEWNET)"] = errno.errorcode.get(ctypes.get_errno()) if libc.unshare(0x40000000) < 0 else "ok"
ctypes.set_errno(0)
r = libc.syscall(ctypes.c_long(nr["clone"]), ctypes.c_long(0x10000000 | 17), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
out["clone(CLONE_NEWUSER)"] = errno.errorcode.get(ctypes.get_errno()) if r < 0 else "ok"
out["seccomp"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")][0]
# What must keep working: fork, threads, a subprocess (clone3 gets ENOSYS; libc falls back to clone).
import os, subprocess, threading
pid = os.fork()
if pid == 0: os._exit(7)
out["fork"] = os.waitpid(pid, 0)[1] >> 8
t = threading.Thread(target=lambda: None); t.start(); t.join(); out["thread"] = "ok"
out["subprocess"] = subprocess.run(["true"]).returncode
# Last: without the filter TRACEME succeeds and leaves this process traced by its parent.
libc.ptrace.argtypes = [ctypes.c_long] * 4
ctypes.set_errno(0)
out["ptrace"] = errno.errorcode.get(ctypes.get_errno()) if libc.ptrace(0, 0, 0, 0) < 0 else "ok"
print(json.dumps(out))
`),
    );
    const out = json<Record<string, unknown>>(r);
    const denied = Object.fromEntries(
      ["mount", "umount2", "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "perf_event_open", "setns", "io_uring_setup", "kexec_load", "init_module", "finit_module", "delete_module", "unshare(CLONE_NEWUSER)", "unshare(CLONE_NEWNET)", "clone(CLONE_NEWUSER)", "ptrace"].map((k) => [k, "EPERM"]),
    );
    expect(out).toEqual({ ...denied, seccomp: "2", fork: 7, thread: "ok", subprocess: 0 });
  });
});
