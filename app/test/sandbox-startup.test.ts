/**
 * The local sandbox fails closed: with APEX_SANDBOX_HARDENED=auto and no bubblewrap, a worker that
 * registers a code-running tool refuses to start (naming the variable and the fix) and the driver
 * refuses every run; `off` is the operator's explicit choice and is logged loudly. The last test
 * starts the real apex-worker in a mount namespace where /usr/bin/bwrap is unusable.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runtimeEnv } from "../src/contract";
import { SandboxError } from "../src/sandbox/errors";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import { checkLocalSandboxStartup } from "../src/sandbox/local/startup-check";
import { runsCode } from "../src/tools/builtin/sandboxed";
import { createToolRegistry } from "../src/tools/registry";

const appDir = path.resolve(__dirname, "..");
const tsx = path.resolve(appDir, "../node_modules/.bin/tsx");
const noBwrap = "/nonexistent/bwrap";
const codeTools = createToolRegistry()
  .list()
  .filter(runsCode)
  .map((t) => t.name);

describe("local sandbox startup check", () => {
  it("knows which builtin tools run code", () => {
    expect(codeTools).toEqual(["python", "run_command"]);
  });

  it("auto without bubblewrap refuses when a code-running tool is registered, naming the variable and both fixes", () => {
    const caps = new LocalSandboxDriver({ hardened: "auto", bwrapPath: noBwrap }).capabilities;
    const { refusal } = checkLocalSandboxStartup(caps, codeTools);
    expect(refusal).toContain(`${runtimeEnv.sandboxHardened}=auto`);
    expect(refusal).toContain("Install bubblewrap");
    expect(refusal).toContain(`set ${runtimeEnv.sandboxHardened}=off`);
    expect(refusal).toContain(noBwrap);
    expect(refusal).toContain("python, run_command");
  });

  it("auto without bubblewrap and no code-running tool starts, with a warning", () => {
    const caps = new LocalSandboxDriver({ hardened: "auto", bwrapPath: noBwrap }).capabilities;
    const verdict = checkLocalSandboxStartup(caps, []);
    expect(verdict.refusal).toBeUndefined();
    expect(verdict.warning).toMatch(/no code-running tool is registered/);
  });

  it("off starts and says loudly that the tools run unsandboxed", () => {
    const caps = new LocalSandboxDriver({ hardened: "off" }).capabilities;
    const verdict = checkLocalSandboxStartup(caps, codeTools);
    expect(verdict.refusal).toBeUndefined();
    expect(verdict.warning).toContain(`${runtimeEnv.sandboxHardened}=off: SANDBOX DISABLED`);
    expect(verdict.warning).toContain("python, run_command");
  });

  it("auto with bubblewrap starts without a refusal", (ctx) => {
    const caps = new LocalSandboxDriver({ hardened: "auto" }).capabilities;
    if (!caps.bwrap) ctx.skip(`bubblewrap unavailable here: ${caps.notes.join("; ")}`);
    expect(checkLocalSandboxStartup(caps, codeTools).refusal).toBeUndefined();
  });

  it("the driver itself refuses to run anything in auto without bubblewrap (the program never starts)", async () => {
    const marker = `/tmp/apex-unsandboxed-${process.pid}-${Date.now()}`;
    const driver = new LocalSandboxDriver({ hardened: "auto", bwrapPath: noBwrap });
    const run = driver.run({ argv: ["touch", marker], timeoutMs: 5_000, signal: new AbortController().signal });
    await expect(run).rejects.toThrow(SandboxError);
    await expect(run).rejects.toThrow(/refusing to run code unsandboxed/);
    expect(existsSync(marker)).toBe(false);
    // The same program does run under `off`, so the absence above is the refusal's doing.
    const off = await new LocalSandboxDriver({ hardened: "off" }).run({ argv: ["touch", marker], timeoutMs: 5_000, signal: new AbortController().signal });
    expect(off.exitCode).toBe(0);
    expect(existsSync(marker)).toBe(true);
    spawnSync("rm", ["-f", marker]);
  });
});

/** Runs apex-worker (PGlite in memory) in a new mount namespace where /usr/bin/bwrap is /dev/null. */
function workerWithoutBwrap(hardened: string, until: RegExp): Promise<{ code: number | null; output: string; matched: boolean }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APEX_|DATABASE_URL$|REDIS_URL$)/.test(k)));
  const script = 'mount --bind /dev/null "$(command -v bwrap)" && exec "$0" "$@"';
  const child = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, tsx, "src/bin/apex-worker.ts"], {
    cwd: appDir,
    env: { ...env, [runtimeEnv.sandboxHardened]: hardened, [runtimeEnv.metricsPort]: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let matched = false;
  const onData = (c: Buffer): void => {
    output += String(c);
    if (!matched && until.test(output)) {
      matched = true;
      child.kill("SIGTERM");
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(guard);
      resolve({ code, output, matched });
    });
  });
}

describe("apex-worker on a host without bubblewrap", () => {
  const canHide = process.getuid?.() === 0 && spawnSync("unshare", ["--mount", "true"]).status === 0 && spawnSync("sh", ["-c", "command -v bwrap"]).status === 0;
  if (!canHide) console.warn("skipped: hiding bwrap needs root, unshare and an installed bwrap");
  const hit = canHide ? it : it.skip;

  hit("refuses to start with auto, and the log names the variable and the fix", { timeout: 90_000 }, async () => {
    const r = await workerWithoutBwrap("auto", /running"/);
    expect(r.matched).toBe(false); // it never reached "running"
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/failed to start/);
    expect(r.output).toContain(`refusing to run code unsandboxed (${runtimeEnv.sandboxHardened}=auto)`);
    expect(r.output).toContain(`set ${runtimeEnv.sandboxHardened}=off`);
  });

  hit("starts with off, after a loud warning", { timeout: 90_000 }, async () => {
    const r = await workerWithoutBwrap("off", /apex-worker running/);
    expect(r.matched).toBe(true);
    expect(r.output).toContain(`${runtimeEnv.sandboxHardened}=off: SANDBOX DISABLED`);
    expect(r.output.indexOf("SANDBOX DISABLED")).toBeLessThan(r.output.indexOf("apex-worker running"));
  });
});
