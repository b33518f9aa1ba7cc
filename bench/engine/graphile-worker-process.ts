/**
 * The graphile-worker side of the engine bench, as its own process (like apex-worker): a
 * graphile-worker 0.17 runner with no-op task handlers, and the job submissions a graphile-worker
 * user's API would make. Dependencies are emulated the way a graphile-worker user would: a job
 * enqueues its dependents when it finishes (a chain link adds the next link, a fan-out root adds
 * its children in one addJobs call). The bench drives it over IPC; the pg-count preload counts its
 * round trips as it does Apex's.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { makeWorkerUtils, run, type AddJobsJobSpec, type Runner, type TaskList, type WorkerEvents } from "graphile-worker";
import { announceReady, serveIpc } from "./ipc";
import { forEachParallel } from "./completion";
import type { WorkloadShape } from "./workloads";

export interface GraphileProgress {
  readonly succeeded: number;
  readonly failed: number;
  /** Wall-clock ms of the first job start since `begin`. */
  readonly firstStartAt?: number;
}

export interface SubmitParams {
  readonly shape: WorkloadShape;
  readonly submitters: number;
}

const connectionString = process.env.DATABASE_URL;
const concurrency = Number(process.env.BENCH_CONCURRENCY);
/** graphile-worker's advice: "10 or concurrentJobs + 2, whichever is larger" (capped: Postgres allows 100 clients here). */
const maxPoolSize = Math.min(Math.max(10, concurrency + 2), 50);
const now = () => performance.timeOrigin + performance.now();

let succeeded = 0;
let failed = 0;
let firstStartAt: number | undefined;
/** Dependency edges: when the parent enqueued the job, and when the job started, by job id. */
let enqueuedAt = new Map<string, number>();
let startedAt = new Map<string, number>();
let dispatchMs: number[] = [];

function edge(jobId: string): void {
  const enqueued = enqueuedAt.get(jobId);
  const started = startedAt.get(jobId);
  if (enqueued === undefined || started === undefined) return;
  dispatchMs.push(started - enqueued);
  enqueuedAt.delete(jobId);
  startedAt.delete(jobId);
}

function recordEnqueued(jobIds: readonly string[]): void {
  const t = now();
  for (const id of jobIds) {
    enqueuedAt.set(id, t);
    edge(id);
  }
}

const taskList: TaskList = {
  noop: async () => {},
  chain_link: async (payload, helpers) => {
    const { remaining } = payload as { remaining: number };
    if (remaining > 0) recordEnqueued([(await helpers.addJob("chain_link", { remaining: remaining - 1 })).id]);
  },
  fanout_root: async (payload, helpers) => {
    const { children } = payload as { children: number };
    const jobs = await helpers.addJobs(Array.from({ length: children }, () => ({ identifier: "noop", payload: {} })));
    recordEnqueued(jobs.map((j) => j.id));
  },
};

const events: WorkerEvents = new EventEmitter();
events.on("job:start", ({ job }) => {
  const t = now();
  firstStartAt ??= t;
  if (job.task_identifier !== "noop" && job.task_identifier !== "chain_link") return;
  startedAt.set(job.id, t);
  edge(job.id);
});
events.on("job:complete", ({ error }) => {
  if (error) failed++;
  else succeeded++;
});

/** One submission (addJob / addJobs call) per DAG of the shape. */
function submissionsOf(shape: WorkloadShape): AddJobsJobSpec[][] {
  const units = (f: () => AddJobsJobSpec[]) => Array.from({ length: shape.dags }, f);
  switch (shape.kind) {
    case "independent":
      return units(() => Array.from({ length: shape.tasksPerDag }, () => ({ identifier: "noop", payload: {} })));
    case "fanout":
      return units(() => [{ identifier: "fanout_root", payload: { children: shape.children } }]);
    case "chain":
      return units(() => [{ identifier: "chain_link", payload: { remaining: shape.length - 1 } }]);
  }
}

async function main(): Promise<void> {
  if (!connectionString || !(concurrency > 0)) throw new Error("DATABASE_URL and BENCH_CONCURRENCY are required");
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  let runner: Runner | undefined;
  const startRunner = async () => {
    runner ??= await run({ connectionString, concurrency, maxPoolSize, noHandleSignals: true, taskList, events });
  };
  const stopRunner = async () => {
    await runner?.stop();
    runner = undefined;
  };

  serveIpc("begin", () => {
    succeeded = failed = 0;
    firstStartAt = undefined;
    enqueuedAt = new Map();
    startedAt = new Map();
    dispatchMs = [];
  });
  serveIpc("submit", async (params) => {
    const { shape, submitters } = params as SubmitParams;
    await forEachParallel(submissionsOf(shape), submitters, (jobs) => (jobs.length === 1 ? utils.addJob(jobs[0]!.identifier, jobs[0]!.payload) : utils.addJobs(jobs)));
  });
  serveIpc("progress", (): GraphileProgress => ({ succeeded, failed, firstStartAt }));
  serveIpc("dispatch", () => dispatchMs);
  serveIpc("start-runner", startRunner);
  serveIpc("stop-runner", stopRunner);

  await startRunner();
  const shutdown = () => {
    void stopRunner()
      .then(() => utils.release())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  announceReady();
}

main().catch((err: unknown) => {
  console.error("graphile-worker bench process failed:", err);
  process.exit(1);
});
