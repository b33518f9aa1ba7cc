/** The budget bench's command line. */
import { parseArgs } from "node:util";

export const storeNames = ["postgres", "pglite"] as const;
export type StoreName = (typeof storeNames)[number];

export interface BudgetBenchOptions {
  /** Concurrent callers (and the Postgres pool's size: one connection each). */
  readonly callers: number;
  /** LLM calls each caller makes, one after the other. */
  readonly callsPerCaller: number;
  readonly reps: number;
  readonly stores: readonly StoreName[];
  /** Usage rows of this month recorded (by another agent) before the runs: a live deployment's history. */
  readonly usageRows: number;
  /** The server of this URL hosts the bench's database; nothing else on it is touched. */
  readonly databaseUrl: string;
  /** Dropped and created at start, dropped at the end. */
  readonly database: string;
  readonly timeoutMs: number;
}

/** Pool of one connection per caller: keep it well under a default Postgres's 100 max_connections. */
const maxCallers = 80;

export const usage = `npm run bench:budgets -- [options]
  --callers N             concurrent callers, each on its own connection          (default: 50, at most ${maxCallers})
  --calls N               LLM calls per caller, one after the other                (default: 10)
  --reps N                repetitions of every variant, interleaved                (default: 3)
  --stores a,b            among ${storeNames.join(", ")}                                 (default: both)
  --usage-rows N          usage rows of this month recorded by another agent first (default: 0)
  --database NAME         the bench's Postgres database, dropped and created       (default: apex_budget_bench)
  --timeout SECONDS       give up on the whole run after this long                 (default: 300)
Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; only its server is used, loopback only).`;

const boundedInt = (flag: string, v: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag}: expected an integer from ${min} to ${max}, got "${v}"`);
  return n;
};
const positiveInt = (flag: string, v: string | undefined, fallback: number, max?: number) => boundedInt(flag, v, fallback, 1, max);

export function parseOptions(argv: readonly string[]): BudgetBenchOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      callers: { type: "string" },
      calls: { type: "string" },
      reps: { type: "string" },
      stores: { type: "string" },
      "usage-rows": { type: "string" },
      database: { type: "string", default: "apex_budget_bench" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const stores = values.stores === undefined ? [...storeNames] : values.stores.split(",").map((s) => s.trim());
  for (const s of stores) if (!(storeNames as readonly string[]).includes(s)) throw new Error(`--stores: unknown store "${s}" (known: ${storeNames.join(", ")})`);
  if (!/^[a-z_][a-z0-9_]*$/.test(values.database)) throw new Error(`--database: expected a lower-case identifier, got "${values.database}"`);
  return {
    callers: positiveInt("callers", values.callers, 50, maxCallers),
    callsPerCaller: positiveInt("calls", values.calls, 10),
    reps: positiveInt("reps", values.reps, 3),
    stores: stores as StoreName[],
    usageRows: boundedInt("usage-rows", values["usage-rows"], 0, 0),
    databaseUrl: process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test",
    database: values.database,
    timeoutMs: positiveInt("timeout", values.timeout, 300) * 1000,
  };
}
