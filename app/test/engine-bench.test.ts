/**
 * `npm run bench` (bench/engine) at its tiny size: the real apex-api and apex-worker processes and
 * graphile-worker on Postgres, every workload once. Checks that it completes and prints its
 * contract (the `ratio` lines and `round-trips-per-task` last), with sane numbers; never a
 * threshold, which a shared machine would make flaky. docs/performance.md explains the figures.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = path.join(__dirname, "../..");
const workloads = ["independent", "fanout", "chains", "drain"];

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/engine/main.ts", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run bench (tiny)", () => {
  it("runs every workload on both sides and prints a ratio per workload and round-trips-per-task last", async () => {
    const database = `apex_bench_t_${randomBytes(4).toString("hex")}`;
    // The bench's own time limit stays below the test's, so a hang reports the bench's message.
    const { code, stdout, stderr } = await runBench(["--size", "tiny", "--database", database, "--timeout", "80"]);
    expect(code, `bench failed:\n${stderr}\n${stdout}`).toBe(0);

    const lines = stdout.trimEnd().split("\n");
    for (const w of workloads) {
      // Every task of every workload finished: the bench fails otherwise; here, each side reported it.
      expect(lines.some((l) => new RegExp(`^  rep 1 apex ${w}: 40 tasks in `).test(l)), `apex ${w}`).toBe(true);
      expect(lines.some((l) => new RegExp(`^  rep 1 graphile-worker ${w}: 40 tasks in `).test(l)), `graphile-worker ${w}`).toBe(true);

      const ratio = lines.map((l) => new RegExp(`^ratio (\\d+\\.\\d+) ${w} \\(apex (\\d+(?:\\.\\d+)?) tasks/s, graphile-worker (\\d+(?:\\.\\d+)?) jobs/s\\)$`).exec(l)).find(Boolean);
      expect(ratio, `ratio line of ${w} in:\n${stdout}`).toBeTruthy();
      const [value, apex, graphile] = ratio!.slice(1).map(Number) as [number, number, number];
      expect(apex).toBeGreaterThan(0);
      expect(graphile).toBeGreaterThan(0);
      expect(value).toBeCloseTo(apex / graphile, 1);
    }

    const roundTrips = /^round-trips-per-task (\d+(?:\.\d+)?)$/.exec(lines.at(-1) ?? "");
    expect(roundTrips, `last line: ${lines.at(-1)}`).toBeTruthy();
    // Counted, not estimated: a counter that is not wired into the processes reads 0.
    expect(Number(roundTrips![1])).toBeGreaterThan(0);
  }, 120_000);
});
