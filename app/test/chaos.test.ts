/**
 * `npm run chaos` (bench/chaos) at its small size: the real apex-api and two apex-workers on a
 * private Postgres cluster, Redis and fake provider, under one of each fault class (a worker
 * SIGKILLed mid-task, a Postgres fast restart, provider 500s, NUL and lone surrogates in API input
 * and in tool and LLM output). Asserts the targets of issue 12 from the run's last line, then its
 * exit code (which also covers recovery within 60 s and the 400s for bad input).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = path.join(__dirname, "../..");

function runChaos(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/chaos/main.ts", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLinePattern = /^chaos: submitted (\d+), lost (\d+), run-twice (\d+), paid-twice (\d+), unrecorded (\d+), exits (\d+), http500 (\d+)$/;

describe("npm run chaos (small)", () => {
  it("loses no task, runs none twice, pays each answered call once and records it, keeps every process up and answers no 500", async () => {
    // The run's watchdog (150 s) fires before the test's timeout, so a hang reports where it was.
    const { code, stdout, stderr } = await runChaos(["--size", "small"]);
    const output = `${stdout}\n${stderr}`;
    const last = lastLinePattern.exec(stdout.trimEnd().split("\n").at(-1) ?? "");
    expect(last, `no chaos: last line:\n${output}`).toBeTruthy();
    const [submitted, lost, runTwice, paidTwice, unrecorded, exits, http500] = last!.slice(1).map(Number);
    expect(submitted, output).toBeGreaterThan(0);
    expect({ lost, runTwice, paidTwice, unrecorded, exits, http500 }, output).toEqual({
      lost: 0,
      runTwice: 0,
      paidTwice: 0,
      unrecorded: 0,
      exits: 0,
      http500: 0,
    });
    expect(code, output).toBe(0);
  }, 180_000);
});
