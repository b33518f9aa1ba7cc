/** Summaries of the repetitions and the bench's printed report. */
import type { WorkloadName, WorkloadRun } from "./workloads";
import { textTable } from "../text-table";

export interface WorkloadResults {
  readonly name: WorkloadName;
  /** One per repetition, in order; apex[i] and graphile[i] ran in the same repetition. */
  readonly apex: WorkloadRun[];
  readonly graphile: WorkloadRun[];
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
export const min = (xs: readonly number[]) => Math.min(...xs);
/** Lower median: a value that really occurred. */
export const median = (xs: readonly number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)] ?? NaN;
/** Nearest-rank percentile. */
export const percentile = (xs: readonly number[], p: number) => {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fixed2 = (x: number) => x.toFixed(2);
const ms = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const ratios = (r: WorkloadResults) => r.apex.map((a, i) => a.tasksPerSecond / r.graphile[i]!.tasksPerSecond);

/** The repetition with the lowest Apex / graphile-worker throughput ratio. */
function worstRepetition(r: WorkloadResults): number {
  const rs = ratios(r);
  return rs.indexOf(min(rs));
}

/** Median round trips per task of a workload's repetitions (Apex: apex-api + apex-worker). */
export const apexRoundTrips = (r: WorkloadResults) => median(r.apex.map((x) => x.roundTripsPerTask));

function dispatch(runs: readonly WorkloadRun[]): string {
  const all = runs.flatMap((x) => x.dispatchMs ?? []);
  if (all.length === 0) return "-";
  return `${ms(percentile(all, 50))}/${ms(percentile(all, 95))}/${ms(percentile(all, 99))} (${all.length})`;
}

export function resultsTable(results: readonly WorkloadResults[]): string {
  const header = [
    "workload",
    "tasks",
    "apex tasks/s min/med",
    "graphile-worker jobs/s min/med",
    "ratio min/med",
    "round trips/task apex (gw)",
    "apex dispatch ms p50/p95/p99 (edges)",
    "gw dispatch ms p50/p95/p99 (edges)",
  ];
  const rows = results.map((r) => {
    const a = r.apex.map((x) => x.tasksPerSecond);
    const g = r.graphile.map((x) => x.tasksPerSecond);
    return [
      r.name,
      String(r.apex[0]?.tasks ?? 0),
      `${rate(min(a))}/${rate(median(a))}`,
      `${rate(min(g))}/${rate(median(g))}`,
      `${fixed2(min(ratios(r)))}/${fixed2(median(ratios(r)))}`,
      `${fixed2(apexRoundTrips(r))} (${fixed2(median(r.graphile.map((x) => x.roundTripsPerTask)))})`,
      dispatch(r.apex),
      dispatch(r.graphile),
    ];
  });
  return textTable([header, ...rows]);
}

/** `ratio <min over repetitions> <workload> (apex N tasks/s, graphile-worker M jobs/s)`, N and M from that repetition. */
export function ratioLine(r: WorkloadResults): string {
  const i = worstRepetition(r);
  return `ratio ${fixed2(ratios(r)[i]!)} ${r.name} (apex ${rate(r.apex[i]!.tasksPerSecond)} tasks/s, graphile-worker ${rate(r.graphile[i]!.tasksPerSecond)} jobs/s)`;
}

/** All Apex queries over all Apex tasks of the run. */
export function overallApexRoundTrips(results: readonly WorkloadResults[]): number {
  const runs = results.flatMap((r) => r.apex);
  return runs.reduce((s, x) => s + x.roundTripsPerTask * x.tasks, 0) / runs.reduce((s, x) => s + x.tasks, 0);
}

/** The bench's last line: the worst workload's (median) Apex round trips per task. */
export function roundTripsLine(results: readonly WorkloadResults[]): string {
  return `round-trips-per-task ${fixed2(Math.max(...results.map(apexRoundTrips)))}`;
}

export function runLine(side: string, name: string, run: WorkloadRun): string {
  const d = run.dispatchMs && run.dispatchMs.length > 0 ? `, dispatch p50 ${ms(percentile(run.dispatchMs, 50))} ms p99 ${ms(percentile(run.dispatchMs, 99))} ms` : "";
  const rss = run.workerPeakRss ? `, worker VmHWM ${mib(run.workerPeakRss)}` : "";
  return `${side} ${name}: ${run.tasks} tasks in ${run.seconds.toFixed(2)} s = ${rate(run.tasksPerSecond)}/s, ${fixed2(run.roundTripsPerTask)} round trips/task${d}${rss}`;
}
