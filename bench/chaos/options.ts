/** The chaos run's command line: its size and its bounds. */
import path from "node:path";
import { parseArgs } from "node:util";

export type ChaosSize = "small" | "default";

export interface ChaosOptions {
  readonly size: ChaosSize;
  /** The watchdog: past this, every process is killed and the run exits 3. */
  readonly timeoutMs: number;
  /** DAGs submitted per second, all through the run. */
  readonly dagsPerSecond: number;
  readonly appDir: string;
  /** Keep the process logs (the cluster is always destroyed). */
  readonly keep: boolean;
}

export const usage = `npm run chaos -- [options]
  --size small|default   default: every fault of issue 12 (SIGKILL a worker x2, Postgres fast restart x2,
                         Postgres blackhole 30 s, Redis restart, provider 500s and hangs, NUL/surrogate
                         inputs and outputs), about 6 minutes; small: one of each guarantee class
                         (one SIGKILL, one fast restart, provider 500s, NUL input and output), about 1 minute
  --timeout SECONDS      watchdog: kill everything and exit 3 past this   (default: 570; small: 150)
  --rate N               DAGs submitted per second                        (default: 2)
  --app DIR              the Apex app/ directory to run                   (default: this repo's app/)
  --keep                 keep the process logs (printed path)
Loopback only: its own Postgres cluster, Redis server and fake LLM provider on free ports.`;

const positive = (flag: string, v: string | undefined, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag}: expected a positive number, got "${v}"`);
  return n;
};

export function parseOptions(argv: readonly string[]): ChaosOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: "string", default: "default" },
      timeout: { type: "string" },
      rate: { type: "string" },
      app: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (values.size !== "small" && values.size !== "default") throw new Error(`--size: expected small or default, got "${values.size}"`);
  const size: ChaosSize = values.size;
  return {
    size,
    timeoutMs: positive("timeout", values.timeout, size === "small" ? 150 : 570) * 1000,
    dagsPerSecond: positive("rate", values.rate, 2),
    appDir: path.resolve(values.app ?? path.join(__dirname, "../../app")),
    keep: values.keep,
  };
}
