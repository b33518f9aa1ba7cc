/**
 * graphile-worker under test, on the same Postgres and at the same concurrency: one process
 * (graphile-worker-process.ts) runs the worker and makes the submissions; the bench waits for
 * every job to be done and gone from graphile-worker's jobs table.
 */
import path from "node:path";
import type { Pool } from "pg";
import { observerPool } from "./bench-database";
import { spawnBenchChild, stopChild, type BenchChild } from "./child-processes";
import { waitForCompletion } from "./completion";
import type { GraphileProgress, SubmitParams } from "./graphile-worker-process";
import { taskCount, type Workload, type WorkloadRun } from "./workloads";

export interface GraphileSideOptions {
  readonly databaseUrl: string;
  readonly concurrency: number;
  readonly runDir: string;
  readonly stallMs: number;
  readonly submitters: number;
}

const startTimeoutMs = 90_000;
/** Submitting 5,000 jobs on a loaded machine may take a while; the stall timeout guards the rest. */
const submitTimeoutMs = 300_000;

export class GraphileSide {
  private constructor(
    private readonly o: GraphileSideOptions,
    private readonly child: BenchChild,
    private readonly observer: Pool,
  ) {}

  static async start(o: GraphileSideOptions): Promise<GraphileSide> {
    const child = spawnBenchChild({
      name: "graphile-worker",
      script: path.join(__dirname, "graphile-worker-process.ts"),
      cwd: path.join(__dirname, "../.."),
      env: { ...process.env, DATABASE_URL: o.databaseUrl, BENCH_CONCURRENCY: String(o.concurrency) },
      logFile: path.join(o.runDir, "graphile-worker.log"),
    });
    await child.ipc.ready(startTimeoutMs);
    return new GraphileSide(o, child, observerPool(o.databaseUrl));
  }

  private async queries(): Promise<number> {
    return (await this.child.ipc.request<{ queries: number }>("pg-count")).queries;
  }

  private async jobsLeft(): Promise<number> {
    const r = await this.observer.query<{ n: number }>("SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
    return r.rows[0]!.n;
  }

  async run(workload: Workload, label: string): Promise<WorkloadRun> {
    const expected = taskCount(workload.shape);
    await this.child.ipc.request("begin");
    const queriesBefore = await this.queries();
    if (workload.drain) await this.child.ipc.request("stop-runner", undefined, 60_000);
    const submittedAt = Date.now();
    await this.child.ipc.request("submit", { shape: workload.shape, submitters: this.o.submitters } satisfies SubmitParams, submitTimeoutMs);
    if (workload.drain) await this.child.ipc.request("start-runner", undefined, 60_000);
    let last: GraphileProgress = { succeeded: 0, failed: 0 };
    const doneAt = await waitForCompletion({
      label,
      expected,
      read: async () => (last = await this.child.ipc.request<GraphileProgress>("progress")),
      settled: async () => (await this.jobsLeft()) === 0,
      describe: async () => `${last.succeeded} succeeded, ${last.failed} failed, ${await this.jobsLeft()} jobs in the table`,
      stallMs: this.o.stallMs,
    });
    const queries = (await this.queries()) - queriesBefore;
    const startedAt = workload.drain ? (last.firstStartAt ?? submittedAt) : submittedAt;
    const seconds = (doneAt - startedAt) / 1000;
    return {
      tasks: expected,
      seconds,
      tasksPerSecond: expected / seconds,
      roundTripsPerTask: queries / expected,
      dispatchMs: workload.dispatchEdges ? await this.child.ipc.request<number[]>("dispatch") : undefined,
    };
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    await this.observer.end();
  }
}
