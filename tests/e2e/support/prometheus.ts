/**
 * Runs the real Prometheus binary on 127.0.0.1 with a given config, and queries its HTTP API.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../../app/test/helpers/wait";

export const prometheusBinary = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const prometheusAvailable = (): boolean => existsSync(prometheusBinary);


export interface AlertState {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: "inactive" | "pending" | "firing";
  readonly value: string;
}

export interface RunningPrometheus {
  readonly url: string;
  query(expr: string): Promise<{ resultType: string; result: unknown[] }>;
  /** An instant query's vector as numbers, evaluated now or at `time` (Unix seconds). */
  vector(expr: string, time?: number): Promise<{ readonly labels: Readonly<Record<string, string>>; readonly value: number }[]>;
  alerts(): Promise<AlertState[]>;
  /** Rule groups as loaded (to prove the generated file was loaded whole). */
  ruleNames(): Promise<string[]>;
  /** Scrape targets and their health. */
  targets(): Promise<{ job: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== "success") throw new Error(`prometheus ${url}: ${body.error ?? res.status}`);
  return body.data;
}

export async function startPrometheus(configFile: string, dataDir: string): Promise<RunningPrometheus> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    prometheusBinary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dataDir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (c: string) => stderr.push(c));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) =>
    child.once("exit", (code) => {
      exitCode = code;
      r();
    }),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`prometheus exited with ${exitCode}: ${stderr.join("")}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 20 s: ${stderr.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    query: (expr) => api(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`),
    vector: async (expr, time) => {
      const at = time === undefined ? "" : `&time=${time}`;
      const data = await api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}${at}`,
      );
      if (data.resultType !== "vector") throw new Error(`prometheus: ${expr} is a ${data.resultType}, not a vector`);
      return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    alerts: async () => (await api<{ alerts: AlertState[] }>(`${url}/api/v1/alerts`)).alerts,
    ruleNames: async () =>
      (await api<{ groups: { rules: { name: string }[] }[] }>(`${url}/api/v1/rules`)).groups.flatMap((g) => g.rules.map((r) => r.name)),
    targets: async () =>
      (await api<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>(`${url}/api/v1/targets`)).activeTargets.map(
        (t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError }),
      ),
    async stop() {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
