/**
 * Apex under test: the real apex-api and apex-worker processes (app/src/bin), configured as
 * production configures them (Postgres, Redis, metrics scraped, traces exported over OTLP), with
 * workloads submitted through the HTTP API and progress read from the tasks and attempts tables.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Pool } from "pg";
import { runtimeEnv } from "../../app/src/contract/env";
import { httpPaths, services } from "../../app/src/contract/services";
import { ApexClient, type DagSubmission } from "./apex-client";
import { observerPool } from "./bench-database";
import { pauseChild, readMemory, resumeChild, spawnBenchChild, stopChild, waitForLogLine, type BenchChild } from "./child-processes";
import { forEachParallel, waitForCompletion } from "./completion";
import { taskCount, type Workload, type WorkloadRun, type WorkloadShape } from "./workloads";

export interface ApexSideOptions {
  /** The `app/` directory whose src/bin/apex-api.ts and apex-worker.ts run. */
  readonly appDir: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly concurrency: number;
  /** Where the processes' logs go. */
  readonly runDir: string;
  readonly stallMs: number;
  readonly submitters: number;
  /** Where traces are exported (otlp-sink.ts). */
  readonly otlpEndpoint: string;
  /** Extra environment for both processes (the in-flight workload's LLM provider). */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

/** Prometheus scrapes every 15 s in both stacks (config/observability.ts scrapeInterval). */
const scrapeIntervalMs = 15_000;
const startTimeoutMs = 90_000;

/** The no-op task: the builtin json_extract tool picking one field, run in the worker itself. */
const noopTask = { kind: "tool", tool: "json_extract", args: { data: { v: 1 }, paths: { v: "v" } } } as const;

export function dagsOf(shape: WorkloadShape, agentId: string, name: string): DagSubmission[] {
  const dag = (tasks: DagSubmission["tasks"]): DagSubmission => ({ agent_id: agentId, name, tasks });
  const times = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  switch (shape.kind) {
    case "independent":
      return times(shape.dags, () => dag(times(shape.tasksPerDag, (i) => ({ ...noopTask, id: `t${i}` }))));
    case "fanout":
      return times(shape.dags, () =>
        dag([{ ...noopTask, id: "root" }, ...times(shape.children, (i) => ({ ...noopTask, id: `c${i}`, depends_on: ["root"] }))]),
      );
    case "chain":
      return times(shape.dags, () => dag(times(shape.length, (i) => ({ ...noopTask, id: `s${i}`, depends_on: i === 0 ? [] : [`s${i - 1}`] }))));
  }
}

/** The caller's environment without any variable the runtime reads (the bench sets those). */
function baseEnv(): NodeJS.ProcessEnv {
  const runtimeNames = new Set<string>(Object.values(runtimeEnv));
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !runtimeNames.has(k) && !k.startsWith("APEX_") && !k.startsWith("OTEL_")));
}

type StartedWorker = { ok: true; child: BenchChild; metricsPort: number } | { ok: false; error: string };

async function spawnWorker(o: ApexSideOptions, env: NodeJS.ProcessEnv, generation: number, concurrency: number): Promise<StartedWorker> {
  const child = spawnBenchChild({
    name: services.worker.name,
    script: path.join(o.appDir, "src/bin/apex-worker.ts"),
    cwd: o.appDir,
    env: { ...env, [runtimeEnv.workerConcurrency]: String(concurrency) },
    logFile: path.join(o.runDir, `${services.worker.name}-${generation}.log`),
  });
  try {
    const running = await waitForLogLine(child, `${services.worker.name} running`, startTimeoutMs);
    return { ok: true, child, metricsPort: Number(running.metrics_port) };
  } catch (err) {
    await stopChild(child);
    return { ok: false, error: (err as Error).message };
  }
}

export class ApexSide {
  private worker: BenchChild;
  private workerGeneration = 1;
  private scrapeTimer?: NodeJS.Timeout;
  private workerMetricsPort: number;
  /** Highest VmHWM seen of any apex-worker process of this run. */
  peakWorkerRss = 0;

  private constructor(
    private readonly o: ApexSideOptions,
    private readonly env: NodeJS.ProcessEnv,
    private readonly api: BenchChild,
    private readonly apiPort: number,
    readonly client: ApexClient,
    readonly observer: Pool,
    firstWorker: { child: BenchChild; metricsPort: number },
  ) {
    this.worker = firstWorker.child;
    this.workerMetricsPort = firstWorker.metricsPort;
  }

  static async start(o: ApexSideOptions): Promise<ApexSide> {
    const adminKey = `apex_bench_${randomBytes(18).toString("hex")}`;
    const env: NodeJS.ProcessEnv = {
      ...baseEnv(),
      [runtimeEnv.databaseUrl]: o.databaseUrl,
      [runtimeEnv.redisUrl]: o.redisUrl,
      [runtimeEnv.httpPort]: "0",
      [runtimeEnv.grpcPort]: "0",
      [runtimeEnv.metricsPort]: "0",
      [runtimeEnv.bootstrapAdminKey]: adminKey,
      // The bench drives the engine as hard as it goes from one key: the API's abuse limits are not what it measures.
      [runtimeEnv.apiRateLimitPerKey]: "0",
      [runtimeEnv.apiRateLimitPerIp]: "0",
      // Production exports traces to Jaeger; here to the bench's sink on loopback.
      [runtimeEnv.otlpEndpoint]: o.otlpEndpoint,
      [runtimeEnv.logLevel]: "info",
      ...o.extraEnv,
    };
    const api = spawnBenchChild({
      name: services.api.name,
      script: path.join(o.appDir, "src/bin/apex-api.ts"),
      cwd: o.appDir,
      env,
      logFile: path.join(o.runDir, `${services.api.name}.log`),
    });
    // Both start at once; the migrations they both run take turns on an advisory lock.
    const [listening, worker] = await Promise.all([
      waitForLogLine(api, `${services.api.name} listening`, startTimeoutMs),
      spawnWorker(o, env, 1, o.concurrency),
    ]);
    if (!worker.ok) throw new Error(worker.error);
    const apiPort = Number(listening.http_port);
    const side = new ApexSide(o, env, api, apiPort, new ApexClient(`http://127.0.0.1:${apiPort}`, adminKey), observerPool(o.databaseUrl), worker);
    side.scrapeTimer = setInterval(() => void side.scrape(), scrapeIntervalMs);
    return side;
  }

  get workerPid(): number {
    return this.worker.pid;
  }

  /** Starts a new apex-worker with this concurrency (stop the current one first); `ok: false` when it refuses to start. */
  async startWorker(concurrency: number, extraEnv: Readonly<Record<string, string>> = {}): Promise<{ ok: true } | { ok: false; error: string }> {
    const started = await spawnWorker(this.o, { ...this.env, ...extraEnv }, ++this.workerGeneration, concurrency);
    if (started.ok) {
      this.worker = started.child;
      this.workerMetricsPort = started.metricsPort;
    }
    return started;
  }

  async stopWorker(): Promise<void> {
    this.sampleWorkerMemory();
    await stopChild(this.worker);
  }

  sampleWorkerMemory(): { rss: number; peakRss: number } | undefined {
    const m = readMemory(this.worker.pid);
    if (m) this.peakWorkerRss = Math.max(this.peakWorkerRss, m.peakRss);
    return m;
  }

  /** Queries the api and worker processes have sent so far. */
  async roundTrips(): Promise<number> {
    const counts = await Promise.all([this.api, this.worker].map((c) => c.ipc.request<{ queries: number }>("pg-count")));
    return counts.reduce((sum, c) => sum + c.queries, 0);
  }

  async createAgent(name: string): Promise<string> {
    return (await this.client.createAgent({ name: `${name}-${randomBytes(4).toString("hex")}` })).id;
  }

  async submitAll(dags: readonly DagSubmission[]): Promise<void> {
    await forEachParallel(dags, this.o.submitters, (d) => this.client.submitDag(d));
  }

  /** Tasks of the agent's DAGs by outcome (the bench's own query: not counted). */
  async progress(agentId: string): Promise<{ succeeded: number; failed: number; running: number }> {
    const r = await this.observer.query<{ succeeded: number; failed: number; running: number }>(
      `SELECT count(*) FILTER (WHERE t.status = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE t.status IN ('failed', 'skipped', 'cancelled'))::int AS failed,
              count(*) FILTER (WHERE t.status = 'running')::int AS running
         FROM dags d JOIN tasks t ON t.dag_id = d.id WHERE d.agent_id = $1`,
      [agentId],
    );
    return r.rows[0]!;
  }

  async describeTasks(agentId: string): Promise<string> {
    const byStatus = await this.observer.query<{ status: string; n: number }>(
      `SELECT t.status, count(*)::int AS n FROM dags d JOIN tasks t ON t.dag_id = d.id WHERE d.agent_id = $1 GROUP BY 1 ORDER BY 1`,
      [agentId],
    );
    const errors = await this.observer.query<{ error: string }>(
      `SELECT DISTINCT t.error FROM dags d JOIN tasks t ON t.dag_id = d.id WHERE d.agent_id = $1 AND t.error IS NOT NULL LIMIT 3`,
      [agentId],
    );
    const statuses = byStatus.rows.map((r) => `${r.status} ${r.n}`).join(", ") || "no tasks";
    return errors.rows.length > 0 ? `${statuses}; errors: ${errors.rows.map((r) => r.error).join(" | ")}` : statuses;
  }

  async run(workload: Workload, label: string): Promise<WorkloadRun> {
    const agentId = await this.createAgent(`bench-${workload.name}`);
    const dags = dagsOf(workload.shape, agentId, workload.name);
    const expected = taskCount(workload.shape);
    const queriesBefore = await this.roundTrips();
    if (workload.drain) pauseChild(this.worker);
    const submittedAt = Date.now();
    try {
      await this.submitAll(dags);
    } finally {
      if (workload.drain) resumeChild(this.worker);
    }
    const doneAt = await waitForCompletion({
      label,
      expected,
      read: () => this.progress(agentId),
      describe: () => this.describeTasks(agentId),
      stallMs: this.o.stallMs,
      onPoll: () => this.sampleWorkerMemory(),
    });
    const queries = (await this.roundTrips()) - queriesBefore;
    const startedAt = workload.drain ? await this.firstStart(agentId) : submittedAt;
    const seconds = (doneAt - startedAt) / 1000;
    return {
      tasks: expected,
      seconds,
      tasksPerSecond: expected / seconds,
      roundTripsPerTask: queries / expected,
      dispatchMs: workload.dispatchEdges ? await this.dispatchLatencies(agentId) : undefined,
      workerPeakRss: this.sampleWorkerMemory()?.peakRss,
    };
  }

  private async firstStart(agentId: string): Promise<number> {
    const r = await this.observer.query<{ ms: number }>(
      `SELECT (extract(epoch FROM min(a.started_at)) * 1000)::float8 AS ms FROM dags d JOIN attempts a ON a.dag_id = d.id WHERE d.agent_id = $1`,
      [agentId],
    );
    return r.rows[0]!.ms;
  }

  /** Per dependent task: its first attempt's start minus its last dependency's successful finish, ms. */
  private async dispatchLatencies(agentId: string): Promise<number[]> {
    const r = await this.observer.query<{ ms: number }>(
      `WITH mine AS (
         SELECT t.dag_id, t.id, t.depends_on FROM dags d JOIN tasks t ON t.dag_id = d.id WHERE d.agent_id = $1
       ), first_start AS (
         SELECT a.dag_id, a.task_id, min(a.started_at) AS started_at
           FROM attempts a JOIN mine m ON m.dag_id = a.dag_id AND m.id = a.task_id GROUP BY 1, 2
       ), finished AS (
         SELECT a.dag_id, a.task_id, max(a.finished_at) AS finished_at
           FROM attempts a JOIN mine m ON m.dag_id = a.dag_id AND m.id = a.task_id WHERE a.status = 'succeeded' GROUP BY 1, 2
       )
       SELECT (extract(epoch FROM s.started_at - max(f.finished_at)) * 1000)::float8 AS ms
         FROM mine m
         CROSS JOIN LATERAL unnest(m.depends_on) AS dep(task_id)
         JOIN first_start s ON s.dag_id = m.dag_id AND s.task_id = m.id
         JOIN finished f ON f.dag_id = m.dag_id AND f.task_id = dep.task_id
        GROUP BY m.dag_id, m.id, s.started_at`,
      [agentId],
    );
    return r.rows.map((row) => row.ms);
  }

  /** What Prometheus does in production: GET /metrics of both processes (the API's cluster gauges query the store). */
  private async scrape(): Promise<void> {
    const urls = [`http://127.0.0.1:${this.apiPort}${httpPaths.metrics}`, `http://127.0.0.1:${this.workerMetricsPort}${httpPaths.metrics}`];
    await Promise.all(urls.map((u) => fetch(u, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text(), () => undefined)));
  }

  async stop(): Promise<void> {
    clearInterval(this.scrapeTimer);
    await this.stopWorker();
    await stopChild(this.api);
    await this.observer.end();
  }
}
