/**
 * The four engine workloads, as shapes both sides build from: Apex submits them as DAGs, the
 * graphile-worker side emulates each shape the way a graphile-worker user would (see
 * graphile-worker-process.ts and docs/performance.md).
 */
export type WorkloadName = "independent" | "fanout" | "chains" | "drain";
export const workloadNames: readonly WorkloadName[] = ["independent", "fanout", "chains", "drain"];

export type WorkloadShape =
  /** `dags` DAGs of `tasksPerDag` tasks without dependencies. */
  | { readonly kind: "independent"; readonly dags: number; readonly tasksPerDag: number }
  /** `dags` DAGs of one root and `children` tasks that depend on it. */
  | { readonly kind: "fanout"; readonly dags: number; readonly children: number }
  /** `dags` chains of `length` tasks, each depending on the one before. */
  | { readonly kind: "chain"; readonly dags: number; readonly length: number };

export interface Workload {
  readonly name: WorkloadName;
  readonly shape: WorkloadShape;
  /** Queued with the workers stopped, then timed from the first task's start. */
  readonly drain: boolean;
  /** Has dependency edges whose dispatch latency is reported. */
  readonly dispatchEdges: boolean;
}

export type Size = "tiny" | "default";

/** Largest DAG the API accepts (service/dag-schema.ts dagLimits.maxTasks). */
const maxTasksPerDag = 200;

const shapes: Record<Size, Record<WorkloadName, WorkloadShape>> = {
  default: {
    independent: { kind: "independent", dags: 400, tasksPerDag: 5 },
    fanout: { kind: "fanout", dags: 10, children: 199 },
    chains: { kind: "chain", dags: 10, length: 200 },
    drain: { kind: "independent", dags: 5_000 / maxTasksPerDag, tasksPerDag: maxTasksPerDag },
  },
  tiny: {
    independent: { kind: "independent", dags: 8, tasksPerDag: 5 },
    fanout: { kind: "fanout", dags: 2, children: 19 },
    chains: { kind: "chain", dags: 2, length: 20 },
    drain: { kind: "independent", dags: 1, tasksPerDag: 40 },
  },
};

export function workloadsOf(size: Size, only: readonly WorkloadName[]): Workload[] {
  return only.map((name) => ({
    name,
    shape: shapes[size][name],
    drain: name === "drain",
    dispatchEdges: name === "fanout" || name === "chains",
  }));
}

export function taskCount(shape: WorkloadShape): number {
  switch (shape.kind) {
    case "independent":
      return shape.dags * shape.tasksPerDag;
    case "fanout":
      return shape.dags * (1 + shape.children);
    case "chain":
      return shape.dags * shape.length;
  }
}

/** One repetition of one workload on one side. */
export interface WorkloadRun {
  readonly tasks: number;
  readonly seconds: number;
  readonly tasksPerSecond: number;
  /** Database round trips of the measured processes during the run, per task. */
  readonly roundTripsPerTask: number;
  /** Dependent's start minus its dependency's finish, ms, one value per edge. */
  readonly dispatchMs?: readonly number[];
  /** Apex only: the apex-worker's peak RSS (VmHWM) so far, bytes. */
  readonly workerPeakRss?: number;
}
