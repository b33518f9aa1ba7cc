/**
 * Optional (`--in-flight N`): apex-worker memory with N tasks in flight at once. No-op tools finish
 * too fast to pile up, so these are LLM tasks against a fake OpenAI server on 127.0.0.1 that holds
 * each answer for `holdMs`: what a worker mostly does in production is wait on LLM calls.
 */
import { runtimeEnv } from "../../app/src/contract/env";
import type { ApexSide } from "./apex-side";
import type { DagSubmission } from "./apex-client";
import { parseJsonLine } from "./child-processes";
import { waitForCompletion } from "./completion";

export interface InFlightResult {
  readonly requested: number;
  /** The concurrency the worker ran with. */
  readonly concurrency: number;
  /** Why the requested concurrency was not used, when it was not. */
  readonly refusal?: string;
  readonly tasks: number;
  readonly peakInFlight: number;
  readonly rssAtPeak: number;
  readonly peakRss: number;
  readonly seconds: number;
  readonly poolSize: number;
  /** Tasks that did not succeed, and why. */
  readonly failed: number;
  readonly failures?: string;
}

export const inFlightModel = "openai/gpt-4o-mini";
const maxTasksPerDag = 200;
/**
 * The worker's default pool at this concurrency (concurrency + 4, at most 100) alone takes all of a
 * default Postgres's 100 connections, next to the API's: tasks then fail on "too many clients".
 * An LLM call holds no connection, so a pool this size serves the slots, and the run measures memory.
 */
const inFlightPoolSize = 40;

/** The limit a refused APEX_WORKER_CONCURRENCY names ("... expected number to be <=256"), else half. */
function acceptedConcurrency(refusal: string, requested: number): number {
  const cap = /<=\s*(\d+)/.exec(refusal)?.[1];
  return cap ? Number(cap) : Math.floor(requested / 2);
}

/** The worker's own words (the `err` of its FATAL line) when it has them. */
function refusalOf(startError: string): string {
  const fatal = startError
    .split("\n")
    .map(parseJsonLine)
    .find((l) => l?.level === "FATAL");
  return typeof fatal?.err === "string" ? fatal.err : startError;
}

export async function runInFlight(apex: ApexSide, requested: number, stallMs: number): Promise<InFlightResult> {
  await apex.stopWorker();
  let concurrency = requested;
  let refusal: string | undefined;
  for (;;) {
    const started = await apex.startWorker(concurrency, { [runtimeEnv.dbPoolSize]: String(inFlightPoolSize) });
    if (started.ok) break;
    refusal ??= refusalOf(started.error);
    const next = acceptedConcurrency(started.error, concurrency);
    if (next < 1 || next >= concurrency) throw new Error(`apex-worker does not start: ${started.error}`);
    concurrency = next;
  }
  const agentId = await apex.createAgent("bench-in-flight");
  const dags: DagSubmission[] = [];
  for (let first = 0; first < requested; first += maxTasksPerDag) {
    const n = Math.min(maxTasksPerDag, requested - first);
    dags.push({
      agent_id: agentId,
      name: "in-flight",
      tasks: Array.from({ length: n }, (_, i) => ({ id: `llm${i}`, kind: "llm", model: inFlightModel, prompt: "hold" })),
    });
  }
  let peakInFlight = 0;
  let rssAtPeak = 0;
  const started = Date.now();
  await apex.submitAll(dags);
  let failed = 0;
  const doneAt = await waitForCompletion({
    label: "apex in-flight",
    expected: requested,
    read: async () => {
      const p = await apex.progress(agentId);
      const m = apex.sampleWorkerMemory();
      if (p.running >= peakInFlight && m) {
        peakInFlight = p.running;
        rssAtPeak = m.rss;
      }
      failed = p.failed;
      // Failures are reported, not fatal: this workload measures memory.
      return { succeeded: p.succeeded + p.failed, failed: 0 };
    },
    describe: () => apex.describeTasks(agentId),
    stallMs,
  });
  return {
    requested,
    concurrency,
    refusal,
    tasks: requested,
    peakInFlight,
    rssAtPeak,
    peakRss: apex.sampleWorkerMemory()?.peakRss ?? 0,
    seconds: (doneAt - started) / 1000,
    poolSize: inFlightPoolSize,
    failed,
    failures: failed > 0 ? await apex.describeTasks(agentId) : undefined,
  };
}
