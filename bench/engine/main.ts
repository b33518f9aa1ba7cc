/**
 * `npm run bench`: Apex's engine against graphile-worker 0.17 on one Postgres, on four workloads
 * of no-op tasks (see workloads.ts and docs/performance.md). Prints a table, one `ratio` line per
 * workload and, last, `round-trips-per-task <N>`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { runtimeEnv } from "../../app/src/contract/env";
import { ApexSide } from "./apex-side";
import { assertLoopback, dropDatabase, recreateDatabase } from "./bench-database";
import { killAllChildren } from "./child-processes";
import { GraphileSide } from "./graphile-side";
import { runInFlight, type InFlightResult } from "./in-flight";
import { parseOptions, usage, type BenchOptions } from "./options";
import { appSourceDescription } from "../app-source";
import { optionsOrExit } from "../command-line";
import { startOtlpSink } from "./otlp-sink";
import { describeComplaints, scanLogs } from "./process-logs";
import { mib, overallApexRoundTrips, ratioLine, resultsTable, roundTripsLine, runLine, type WorkloadResults } from "./report";
import { workloadsOf } from "./workloads";
import { startFakeLlmServer, type FakeLlmServer } from "../../app/test/fakes/fake-llm-server";

/** How long the in-flight workload's fake LLM holds each answer. */
const inFlightHoldMs = 5_000;

let stage = "starting";

async function postgresVersion(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
  } finally {
    await c.end();
  }
}

async function bench(o: BenchOptions, runDir: string): Promise<void> {
  assertLoopback(o.databaseUrl, runtimeEnv.databaseUrl);
  assertLoopback(o.redisUrl, runtimeEnv.redisUrl);
  const workloads = workloadsOf(o.size, o.only);
  console.log(
    `engine bench: size ${o.size}, ${o.reps} repetition(s), concurrency ${o.concurrency}, workloads ${o.only.join(", ")}\n` +
      `  Apex ${o.appDir} at ${appSourceDescription(o.appDir)}; graphile-worker 0.17.3\n` +
      `  Node ${process.version}, Postgres ${await postgresVersion(o.databaseUrl)} (database ${o.database}), ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB\n` +
      `  logs in ${runDir}`,
  );

  stage = `creating database ${o.database}`;
  const databaseUrl = await recreateDatabase(o.databaseUrl, o.database);
  let fakeLlm: FakeLlmServer | undefined;
  if (o.inFlight > 0) {
    fakeLlm = await startFakeLlmServer();
    fakeLlm.setDefault({ kind: "success", delayMs: inFlightHoldMs });
  }
  const otlp = await startOtlpSink();
  const common = { databaseUrl, concurrency: o.concurrency, runDir, stallMs: o.stallMs, submitters: o.submitters };
  stage = "starting apex-api, apex-worker and graphile-worker";
  const [apex, graphile] = await Promise.all([
    ApexSide.start({
      ...common,
      appDir: o.appDir,
      redisUrl: o.redisUrl,
      otlpEndpoint: otlp.endpoint,
      extraEnv: fakeLlm ? { [runtimeEnv.openaiApiKey]: "sk-bench", [runtimeEnv.openaiBaseUrl]: fakeLlm.openaiBaseUrl } : undefined,
    }),
    GraphileSide.start(common),
  ]);

  const results: WorkloadResults[] = workloads.map((w) => ({ name: w.name, apex: [], graphile: [] }));
  const sides = [
    { name: "apex", run: apex.run.bind(apex), results: (r: WorkloadResults) => r.apex },
    { name: "graphile-worker", run: graphile.run.bind(graphile), results: (r: WorkloadResults) => r.graphile },
  ];
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const side of rep % 2 === 1 ? sides : [...sides].reverse()) {
      for (const [i, w] of workloads.entries()) {
        stage = `${side.name} ${w.name} (repetition ${rep})`;
        const run = await side.run(w, stage);
        side.results(results[i]!).push(run);
        console.log(`  rep ${rep} ${runLine(side.name, w.name, run)}`);
      }
    }
  }
  const workerMemory = apex.sampleWorkerMemory();
  const peakWorkerRss = apex.peakWorkerRss;

  stage = "stopping graphile-worker";
  await graphile.stop();
  let inFlight: InFlightResult | undefined;
  if (o.inFlight > 0) {
    stage = `apex in-flight (${o.inFlight} tasks)`;
    inFlight = await runInFlight(apex, o.inFlight, o.stallMs + inFlightHoldMs);
  }

  stage = "stopping Apex";
  await apex.stop();
  await fakeLlm?.close();
  await otlp.close();

  console.log("");
  console.log(resultsTable(results));
  console.log("");
  console.log("round trips: Apex = queries of apex-api + apex-worker per task, median of the repetitions (gw: the graphile-worker process's)");
  console.log(`  overall Apex: ${overallApexRoundTrips(results).toFixed(2)} per task`);
  console.log(`traces: ${otlp.exports} OTLP exports (${(otlp.bytes / 2 ** 20).toFixed(1)} MiB) from apex-api and apex-worker to the sink on 127.0.0.1`);
  console.log(`apex-worker memory (concurrency ${o.concurrency}): peak RSS (VmHWM) ${mib(peakWorkerRss)}, RSS at the end ${workerMemory ? mib(workerMemory.rss) : "?"}`);
  if (inFlight) {
    if (inFlight.refusal) console.log(`in-flight: APEX_WORKER_CONCURRENCY=${inFlight.requested} refused (${inFlight.refusal}); ran at ${inFlight.concurrency}`);
    console.log(
      `in-flight: ${inFlight.tasks} LLM tasks (fake OpenAI on 127.0.0.1 holding each answer ${inFlightHoldMs / 1000} s), worker concurrency ${inFlight.concurrency}: ` +
        `peak ${inFlight.peakInFlight} in flight, apex-worker RSS ${mib(inFlight.rssAtPeak)} at that peak, VmHWM ${mib(inFlight.peakRss)}, ${inFlight.seconds.toFixed(1)} s ` +
        `(APEX_DB_POOL_SIZE=${inFlight.poolSize})`,
    );
    if (inFlight.failed > 0) console.log(`in-flight: ${inFlight.failed} tasks did not succeed: ${inFlight.failures}`);
  }
  console.log("process logs (warnings and errors):");
  for (const line of describeComplaints(scanLogs(runDir))) console.log(line);
  console.log("");
  for (const r of results) console.log(ratioLine(r));
  if (!o.keep) await dropDatabase(o.databaseUrl, o.database);
  console.log(roundTripsLine(results));
}

async function main(): Promise<void> {
  const options = optionsOrExit(parseOptions, usage);
  if (!options) return;
  const runDir = mkdtempSync(path.join(os.tmpdir(), "apex-engine-bench-"));
  process.on("exit", killAllChildren);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`engine bench: ${signal} while ${stage}; stopping every process it started (logs in ${runDir})`);
      process.exit(130);
    });
  }
  const timeout = setTimeout(() => {
    console.error(`engine bench: timed out after ${options.timeoutMs / 1000} s while ${stage}; killed every process it started (logs in ${runDir})`);
    process.exit(3);
  }, options.timeoutMs);
  try {
    await bench(options, runDir);
  } catch (err) {
    console.error(`engine bench failed while ${stage}: ${(err as Error).message}\n  logs and database ${options.database} kept: ${runDir}`);
    process.exit(1);
  }
  clearTimeout(timeout);
  if (!options.keep) rmSync(runDir, { recursive: true, force: true });
  // pg pools and fetch keep-alive sockets are closed, but do not wait on anything left over.
  process.exit(0);
}

void main();
