/**
 * `npm run bench:budgets` (bench/budgets) at a tiny size, so it cannot rot: 4 callers x 5 calls,
 * every variant once on Postgres and on PGlite. The bench itself fails a run whose bookkeeping does
 * not add up (a call left in flight or reserved, a window's spend off by a micro-dollar, more calls
 * sent than the tight budget fits); here: it completes, every run reports its calls as the variant
 * says, and the ratio lines are consistent. Never a threshold: a shared machine would make it flaky.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = path.join(__dirname, "../..");
const callers = 4;
const callsPerCaller = 5;
const calls = callers * callsPerCaller;
/** The tight variant's agent budget fits a tenth of the calls' worst cases. */
const tightFits = calls / 10;

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/budgets/main.ts", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run bench:budgets (tiny)", () => {
  it("runs every variant on Postgres and PGlite, each call sent or refused as its budget says, and prints a ratio per budgeted variant", async () => {
    const database = `apex_budget_bench_t_${randomBytes(4).toString("hex")}`;
    // The bench's own time limit stays below the test's, so a hang reports the bench's message.
    const { code, stdout, stderr } = await runBench(["--callers", String(callers), "--calls", String(callsPerCaller), "--reps", "1", "--database", database, "--timeout", "100"]);
    expect(code, `bench failed:\n${stderr}\n${stdout}`).toBe(0);
    const lines = stdout.trimEnd().split("\n");

    for (const store of ["postgres", "pglite"]) {
      const sentOf: Record<string, number> = {};
      for (const variant of ["no-budget", "3-budgets", "tight"]) {
        const run = lines
          .map((l) => new RegExp(`^  rep 1 ${store} ${variant}: (\\d+) calls \\((\\d+) sent, (\\d+) refused.*= (\\d+(?:\\.\\d+)?) calls/s, beginCall p50 (\\S+) ms p99 (\\S+) ms(.*)$`).exec(l))
          .find(Boolean);
        expect(run, `run line of ${store} ${variant} in:\n${stdout}`).toBeTruthy();
        const [total, sent, refused, perSecond, p50, p99] = run!.slice(1, 7).map(Number) as [number, number, number, number, number, number];
        expect(total).toBe(calls);
        expect(sent + refused).toBe(calls);
        expect(perSecond).toBeGreaterThan(0);
        expect(p50).toBeGreaterThan(0);
        expect(p99).toBeGreaterThanOrEqual(p50);
        // Lock waits are sampled where the store can tell: Postgres only.
        expect(run![7]!.includes("waiting on a lock"), `${store} ${variant} lock waits`).toBe(store === "postgres");
        sentOf[variant] = sent;
      }
      expect(sentOf["no-budget"]).toBe(calls);
      expect(sentOf["3-budgets"]).toBe(calls);
      expect(sentOf["tight"]).toBeGreaterThanOrEqual(1);
      expect(sentOf["tight"]).toBeLessThanOrEqual(tightFits);

      for (const variant of ["3-budgets", "tight"]) {
        const ratio = lines
          .map((l) => new RegExp(`^ratio (\\d+\\.\\d+) ${store} ${variant} vs no-budget \\(calls/s (\\d+(?:\\.\\d+)?) vs (\\d+(?:\\.\\d+)?);`).exec(l))
          .find(Boolean);
        expect(ratio, `ratio line of ${store} ${variant} in:\n${stdout}`).toBeTruthy();
        const [value, budgeted, unbudgeted] = ratio!.slice(1).map(Number) as [number, number, number];
        expect(budgeted).toBeGreaterThan(0);
        expect(unbudgeted).toBeGreaterThan(0);
        // Rates print with one decimal below 100 calls/s, whole above: the ratio of the printed figures is close, not exact.
        expect(Math.abs(value - budgeted / unbudgeted)).toBeLessThan(0.05 * Math.max(1, value));
      }
    }
    // The table has one row per store and variant.
    expect(lines.filter((l) => /^(postgres|pglite) +(no-budget|3-budgets|tight) +20 /.test(l))).toHaveLength(6);
  }, 120_000);
});
