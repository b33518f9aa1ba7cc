/** The engine bench's command line. */
import path from "node:path";
import { parseArgs } from "node:util";
import { workloadNames, type Size, type WorkloadName } from "./workloads";

export interface BenchOptions {
  readonly size: Size;
  readonly reps: number;
  readonly concurrency: number;
  readonly only: readonly WorkloadName[];
  /** Run the in-flight memory workload with this many tasks (0: not). */
  readonly inFlight: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** The database the bench drops, creates and (unless keep) drops again. */
  readonly database: string;
  readonly appDir: string;
  readonly timeoutMs: number;
  readonly stallMs: number;
  readonly submitters: number;
  readonly keep: boolean;
}

export const usage = `npm run bench -- [options]
  --size tiny|default     tasks per workload: default 2,000 (drain 5,000); tiny 40        (default: default)
  --reps N                repetitions, Apex and graphile-worker alternating             (default: 3; tiny: 1)
  --concurrency N         worker concurrency of both sides                             (default: 16)
  --only a,b              workloads among ${workloadNames.join(", ")}                     (default: all)
  --in-flight N           also measure apex-worker memory with N LLM tasks in flight   (default: off)
  --database NAME         the bench's database, dropped and created at start           (default: apex_bench)
  --app DIR               the Apex app/ directory to run (e.g. a git worktree)         (default: this repo's app/)
  --timeout SECONDS       give up on the whole run after this long                     (default: 900; tiny: 120)
  --stall SECONDS         fail a workload when no task finishes for this long          (default: 30)
  --submitters N          concurrent submissions (HTTP requests / addJobs calls)      (default: 8)
  --keep                  keep the database and the process logs
Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; only its server is used),
REDIS_URL (default redis://127.0.0.1:6379).`;

const positiveInt = (flag: string, v: string | undefined, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a positive integer, got "${v}"`);
  return n;
};

export function parseOptions(argv: readonly string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: "string", default: "default" },
      reps: { type: "string" },
      concurrency: { type: "string" },
      only: { type: "string" },
      "in-flight": { type: "string" },
      database: { type: "string", default: "apex_bench" },
      app: { type: "string" },
      timeout: { type: "string" },
      stall: { type: "string" },
      submitters: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (values.size !== "tiny" && values.size !== "default") throw new Error(`--size: expected tiny or default, got "${values.size}"`);
  const size: Size = values.size;
  const only = values.only === undefined ? [...workloadNames] : values.only.split(",").map((s) => s.trim());
  for (const w of only) if (!(workloadNames as readonly string[]).includes(w)) throw new Error(`--only: unknown workload "${w}" (known: ${workloadNames.join(", ")})`);
  if (!/^[a-z_][a-z0-9_]*$/.test(values.database)) throw new Error(`--database: expected a lower-case identifier, got "${values.database}"`);
  return {
    size,
    reps: positiveInt("reps", values.reps, size === "tiny" ? 1 : 3),
    concurrency: positiveInt("concurrency", values.concurrency, 16),
    only: only as WorkloadName[],
    inFlight: values["in-flight"] === undefined ? 0 : positiveInt("in-flight", values["in-flight"], 0),
    databaseUrl: process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test",
    redisUrl: process.env.REDIS_URL || "redis://127.0.0.1:6379",
    database: values.database,
    appDir: path.resolve(values.app ?? path.join(__dirname, "../../app")),
    timeoutMs: positiveInt("timeout", values.timeout, size === "tiny" ? 120 : 900) * 1000,
    stallMs: positiveInt("stall", values.stall, 30) * 1000,
    submitters: positiveInt("submitters", values.submitters, 8),
    keep: values.keep,
  };
}
