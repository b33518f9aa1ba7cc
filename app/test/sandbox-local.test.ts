import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxSpec } from "../src/contract";
import { SandboxError } from "../src/sandbox/errors";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import { allGone, processesWith } from "./helpers/host-processes";
import { forkBomb } from "./helpers/sandbox-programs";
import type { SandboxRequest } from "../src/sandbox/types";

const py = (code: string, extra: Partial<SandboxRequest> = {}): SandboxRequest => ({
  argv: ["python3", "-c", code],
  timeoutMs: 15_000,
  signal: new AbortController().signal,
  ...extra,
});

/** A program whose grandchild would outlive it: prints the grandchild's pid, then sleeps. */
const spawnGrandchild = (marker: string, setsid: boolean) => `
import os, sys, time
# ${marker}
if os.fork() == 0:
    if os.fork() == 0:
        ${setsid ? "os.setsid()" : "pass"}
        time.sleep(60)
        os._exit(0)
    os._exit(0)
print("started", flush=True)
time.sleep(60)
`;

describe("local sandbox: baseline (any host)", () => {
  const driver = new LocalSandboxDriver({ hardened: "off" });

  it("passes argv without a shell and stdin through", async () => {
    const r = await driver.run({
      argv: ["python3", "-c", "import sys; print(sys.argv[1:]); print(sys.stdin.read().upper())", "$(id)", "a;b|c"],
      stdin: "hello",
      timeoutMs: 10_000,
      signal: new AbortController().signal,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("['$(id)', 'a;b|c']\nHELLO\n");
    expect(r.timedOut).toBe(false);
  });

  it("starts from an empty environment: none of the worker's secrets, only the request's env", async () => {
    process.env.OPENAI_API_KEY = "sk-test-worker-secret";
    process.env.DATABASE_URL = process.env.DATABASE_URL ?? "postgres://u:secretpw@127.0.0.1/x";
    try {
      const r = await driver.run(py("import os, json; print(json.dumps(dict(os.environ)))", { env: { TOOL_INPUT: "x" } }));
      const env = JSON.parse(r.stdout) as Record<string, string>;
      expect(env.TOOL_INPUT).toBe("x");
      expect(env.OPENAI_API_KEY).toBeUndefined();
      expect(env.DATABASE_URL).toBeUndefined();
      expect(r.stdout).not.toContain("sk-test-worker-secret");
      expect(Object.keys(env).sort()).toEqual(expect.arrayContaining(["HOME", "LANG", "PATH", "TOOL_INPUT"]));
      expect(Object.keys(env).length).toBeLessThanOrEqual(5);
    } finally {
      delete process.env.OPENAI_API_KEY;
    }
  });

  it("reports a non-zero exit code and stderr", async () => {
    const r = await driver.run(py("import sys; sys.stderr.write('boom'); sys.exit(3)"));
    expect(r).toMatchObject({ exitCode: 3, stderr: "boom", timedOut: false });
  });

  it("caps output and says it truncated", async () => {
    const small = new LocalSandboxDriver({ hardened: "off", maxOutputBytes: 1000 });
    const r = await small.run(py("import sys; sys.stdout.write('x' * 100000)"));
    expect(r.stdout.length).toBe(1000);
    expect(r.truncated).toEqual({ stdout: true, stderr: false });
  });

  // Timeouts leave a slow machine seconds to start Python and print; the program and its
  // grandchild would sleep 60 s, so returning within 15 s still proves the kill.
  it("kills the process group, grandchildren included, on timeout", async () => {
    const marker = `apex-timeout-${process.pid}-${Date.now()}`;
    const t0 = Date.now();
    const r = await driver.run(py(spawnGrandchild(marker, false), { timeoutMs: 3_000 }));
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
    expect(r.stdout).toContain("started");
    expect(Date.now() - t0).toBeLessThan(15_000);
    await allGone(marker);
  });

  it("returns even when a descendant that left the session holds the output open", async () => {
    const marker = `apex-escaped-${process.pid}-${Date.now()}`;
    const t0 = Date.now();
    try {
      const r = await driver.run(py(spawnGrandchild(marker, true), { timeoutMs: 3_000 }));
      expect(r.timedOut).toBe(true);
      expect(r.stdout).toContain("started");
      expect(Date.now() - t0).toBeLessThan(15_000); // the escaped grandchild holds the output for 60 s
    } finally {
      // Without namespaces or cgroups such a process escapes the group kill (documented); clean up.
      for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
    }
  });

  it("stops on abort", async () => {
    const marker = `apex-abort-${process.pid}-${Date.now()}`;
    const ac = new AbortController();
    const run = driver.run(py(`# ${marker}\nimport time; time.sleep(30)`, { signal: ac.signal }));
    // Abort the running program (not one still starting up).
    await expect.poll(() => processesWith(marker).length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    ac.abort();
    const r = await run;
    expect(r.aborted).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.durationMs).toBeLessThan(15_000); // the program would sleep 30 s
    await allGone(marker);
  });

  it("rejects bad requests with a clear error", async () => {
    await expect(driver.run(py("1", { argv: [] }))).rejects.toThrow(/argv/);
    await expect(driver.run(py("1", { timeoutMs: 0 }))).rejects.toThrow(/timeoutMs/);
    await expect(driver.run(py("1", { networkAllowlist: ["example.com"] }))).rejects.toThrow(SandboxError);
    // A missing program: the launcher (prlimit or bwrap) reports exit 127; a bare spawn throws.
    const missing = driver.run(py("1", { argv: ["/nonexistent/program"] }));
    if (driver.capabilities.prlimit) {
      await expect(missing).resolves.toMatchObject({ exitCode: 127, stderr: expect.stringContaining("/nonexistent/program") });
    } else {
      await expect(missing).rejects.toThrow(/cannot start/);
    }
  });

  it("applies rlimits when there is nothing stronger", async () => {
    if (!driver.capabilities.prlimit) {
      console.warn("skipped: prlimit (util-linux) is not installed");
      return;
    }
    const limits = driver.limits();
    expect(limits.memory).toBe(`rlimit-as=${sandboxSpec.memory.bytes}`);
    const r = await driver.run(py("s = b'x' * (700 << 20); print(len(s))"));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("MemoryError");
    if (limits.pids.startsWith("rlimit-nproc")) {
      const bomb = await driver.run(py(forkBomb));
      const forks = Number(/forks (\d+)/.exec(bomb.stdout)?.[1]);
      expect(forks).toBeLessThan(sandboxSpec.pidsLimit);
    }
  });

  it("names a bad readOnlyPaths entry", () => {
    expect(() => new LocalSandboxDriver({ hardened: "off", readOnlyPaths: ["relative/dir"] })).toThrow(/readOnlyPaths entry "relative\/dir"/);
  });

  it("refuses to start when hardening is required but missing", () => {
    expect(() => new LocalSandboxDriver({ hardened: "required", bwrapPath: "/nonexistent/bwrap" })).toThrow(
      /hardened mode is required but unavailable: bubblewrap unavailable/,
    );
  });
});

describe("local sandbox: hardened (bubblewrap + cgroup v1)", () => {
  const driver = new LocalSandboxDriver({ hardened: "auto" });
  const { bwrap, cgroup, notes } = driver.capabilities;
  const hardened = bwrap !== undefined && cgroup !== undefined;
  if (!hardened) console.warn(`skipped hardened sandbox tests: ${notes.join("; ")}`);
  const hit = hardened ? it : it.skip;

  let listener: Server;
  let port = 0;
  beforeAll(async () => {
    listener = createServer((s) => s.end("reachable\n"));
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(() => listener.close());

  hit("reports every limit as enforced by namespaces and cgroups", () => {
    const l = driver.limits();
    expect(l.isolation).toMatch(/bubblewrap/);
    expect(l.network).toMatch(/^none/);
    expect(l.memory).toBe(`cgroup-v1 memory.limit_in_bytes=${sandboxSpec.memory.bytes}`);
    expect(l.pids).toBe(`cgroup-v1 pids.max=${sandboxSpec.pidsLimit}`);
    expect(l.capabilities).toBe("all dropped");
    expect(l.seccomp).toMatch(/^filter: \d+ syscalls and new namespaces EPERM/);
  });

  hit("runs as the contract's uid/gid with no capabilities", async () => {
    const r = await driver.run(
      py("import os; print(os.getuid(), os.getgid()); print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])"),
    );
    expect(r.stdout).toBe(`${sandboxSpec.user.uid} ${sandboxSpec.user.gid}\n0000000000000000\n`);
  });

  hit("cannot reach a listener on the host's loopback (which the host itself can reach)", async () => {
    const code = `
import socket
try:
    socket.create_connection(("127.0.0.1", ${port}), timeout=2).recv(100)
    print("connected")
except OSError as e:
    print("blocked", type(e).__name__)
`;
    const plain = await new LocalSandboxDriver({ hardened: "off" }).run(py(code));
    expect(plain.stdout).toBe("connected\n");
    const r = await driver.run(py(code));
    expect(r.stdout).toMatch(/^blocked/);
    const ifaces = await driver.run(py("import socket; print(sorted(n for _, n in socket.if_nameindex()))"));
    expect(ifaces.stdout).toBe("['lo']\n");
  });

  hit("has a read-only filesystem except a size-limited /tmp", async () => {
    const r = await driver.run(
      py(`
import os
for p in ["/usr/apex-probe", "/apex-probe", "${sandboxSpec.workdir}/apex-probe", "/etc/apex-probe"]:
    try:
        open(p, "w").write("x"); print("wrote", p)
    except OSError as e:
        print("denied", p, e.errno)
open("/tmp/ok", "w").write("fine"); print("tmp", open("/tmp/ok").read())
try:
    with open("/tmp/big", "wb") as f:
        for _ in range(${Math.ceil(sandboxSpec.tmpfs.sizeBytes / (1 << 20)) + 8}):
            f.write(b"x" * (1 << 20))
    print("tmp unbounded")
except OSError as e:
    print("tmp full", e.errno)
`),
    );
    expect(r.stdout).not.toContain("wrote");
    expect(r.stdout.match(/denied \S+ 30$/gm)).toHaveLength(4); // EROFS, not a mere permission error
    expect(r.stdout).toContain("tmp fine");
    expect(r.stdout).toContain("tmp full 28"); // ENOSPC
  });

  hit("stops a fork bomb at the PID limit", async () => {
    const r = await driver.run(py(forkBomb));
    const forks = Number(/forks (\d+)/.exec(r.stdout)?.[1]);
    expect(r.stdout).toContain("error 11"); // EAGAIN from the pids controller
    expect(forks).toBeGreaterThan(50);
    expect(forks).toBeLessThan(sandboxSpec.pidsLimit);
  });

  hit("kills a memory hog (OOM inside the run's cgroup)", async () => {
    const r = await driver.run(py("s = b'x' * (700 << 20); print(len(s))"));
    expect(r.signal).toBe("SIGKILL");
    expect(r.oomKilled).toBe(true);
    expect(r.stdout).toBe("");
    const fits = await driver.run(py("s = b'x' * (200 << 20); print(len(s))"));
    expect(fits.stdout).toBe(`${200 << 20}\n`);
  });

  hit("holds two busy processes to one CPU core", async (ctx) => {
    // Time is the condition: two processes spin for 1.5 s and report the cores they got. Fewer
    // than one core proves nothing on a busy machine, so the run's cgroup must also show the
    // kernel throttling it (it wanted more than its quota). A busy machine gets another try; if it
    // never had a core to spare, the test says so and skips rather than pass without proof.
    const cpuParent = cgroup!.parents.cpu;
    const measure = async (): Promise<{ cores: number; throttled: number }> => {
      let throttled = 0;
      const watch = setInterval(() => {
        for (const name of readdirSync(cpuParent).filter((n) => n.startsWith(`run-${process.pid}-`))) {
          try {
            throttled = Math.max(throttled, Number(/^nr_throttled (\d+)$/m.exec(readFileSync(join(cpuParent, name, "cpu.stat"), "utf8"))?.[1] ?? 0));
          } catch {
            // Removed at the end of the run.
          }
        }
      }, 20);
      try {
        const r = await driver.run(
          py(`
import os, time
def spin(until):
    while time.time() < until: pass
end = time.time() + 1.5
pids = [os.fork() for _ in range(2)]
if 0 in pids:
    spin(end); os._exit(0)
t0 = time.time()
for p in pids: os.waitpid(p, 0)
c = os.times()
print((c.children_user + c.children_system) / (time.time() - t0))
`),
        );
        return { cores: Number(r.stdout), throttled };
      } finally {
        clearInterval(watch);
      }
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const { cores, throttled } = await measure();
      expect(cores).toBeGreaterThan(0);
      expect(cores).toBeLessThan(sandboxSpec.cpu.cores * 1.15);
      if (throttled > 0) return;
    }
    ctx.skip("inconclusive: the machine was too busy for the run to reach its CPU quota");
  });

  hit("kills every descendant, even one that left the session, on timeout", async () => {
    const marker = `apex-hardened-timeout-${process.pid}-${Date.now()}`;
    const r = await driver.run(py(spawnGrandchild(marker, true), { timeoutMs: 3_000 }));
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toContain("started");
    await allGone(marker);
  });

  hit("without cgroups (auto on a host where they are not writable) keeps namespaces and seccomp, with rlimits", async () => {
    const noCgroups = new LocalSandboxDriver({ hardened: "auto", cgroupRoot: "/nonexistent/cgroup" });
    expect(noCgroups.capabilities.cgroup).toBeUndefined();
    expect(noCgroups.limits().memory).toBe(`rlimit-as=${sandboxSpec.memory.bytes}`);
    const r = await noCgroups.run(py("import socket; print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')][0], sorted(n for _, n in socket.if_nameindex()))"));
    expect(r.stdout).toBe("2 ['lo']\n");
  });

  hit("leaves no cgroup behind", async () => {
    await driver.run(py("print(1)"));
    const leftovers = Object.values(cgroup!.parents).flatMap((p) => readdirSync(p).filter((n) => n.startsWith(`run-${process.pid}-`)));
    expect(leftovers).toEqual([]);
  });
});
