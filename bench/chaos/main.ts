/**
 * `npm run chaos`: the real apex-api and two apex-workers on the run's own Postgres, Redis and fake
 * LLM provider (loopback only), a steady stream of DAGs through the HTTP API, and the faults of
 * issue 12 injected one after another with recovery between (faults.ts). Prints one table and, last,
 * `chaos: submitted N, lost N, run-twice N, paid-twice N, unrecorded N, exits N, http500 N`.
 * Exit 0: every target met; 1: a target missed; 2: bad options; 3: the watchdog fired; 130: signal.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeComplaints, scanLogs } from "../engine/process-logs";
import { FaultInjector, faultPlan, type FaultResult } from "./faults";
import { measure } from "./measure";
import { parseOptions, usage, type ChaosOptions } from "./options";
import { optionsOrExit } from "../command-line";
import { lastLine, missedTargets, report } from "./report";
import { ChaosRig } from "./rig";
import { pollUntil, sleep } from "./wait";
import { Workload } from "./workload";

let stage = "starting";
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);

async function expectCreated(res: { status?: number; body: unknown }, what: string): Promise<Record<string, unknown>> {
  if (res.status !== 201) throw new Error(`${what}: HTTP ${res.status ?? "no answer"}: ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body as Record<string, unknown>;
}

async function chaos(o: ChaosOptions, rig: ChaosRig, runDir: string): Promise<number> {
  const runTag = `chaos${randomBytes(4).toString("hex")}`;
  log(`chaos run ${runTag}: size ${o.size}, ${o.dagsPerSecond} DAGs/s, Node ${process.version}, ${os.cpus().length} cores; app ${o.appDir}`);
  stage = "starting Postgres, Redis, the fake provider, apex-api and two apex-workers";
  await rig.start();
  const api = rig.client;
  const agent = await expectCreated(await api.request("POST", "/v1/agents", rig.adminKey, { name: runTag }), "creating the agent");
  const approver = await expectCreated(
    await api.request("POST", "/v1/api-keys", rig.adminKey, { name: `${runTag}-approver`, role: "operator" }),
    "creating the approver's key",
  );
  const agentId = String(agent.id);
  const workload = new Workload(api, { submitter: rig.adminKey, approver: String(approver.secret) }, agentId, runTag, o.dagsPerSecond, rig.sandbox !== undefined);
  workload.start();

  stage = "warm-up";
  await pollUntil("the first DAGs have finished", 60_000, async () => {
    const r = await rig.observer!.query<{ n: number }>(`SELECT count(*)::int AS n FROM dags WHERE name LIKE $1 AND finished_at IS NOT NULL`, [`${runTag}-%`]);
    return r.rows[0]!.n >= 3;
  });
  log("warm-up done: DAGs are finishing");

  // Leaves time to measure, report and tear down before the watchdog.
  const injector = new FaultInjector(rig, runTag, rig.adminKey, agentId, started + o.timeoutMs - 25_000);
  const faults: FaultResult[] = [];
  for (const { fault, holdMs } of faultPlan(o.size)) {
    stage = `fault ${fault}`;
    log(`fault ${fault}${holdMs > 0 ? ` (${holdMs / 1000} s)` : ""}`);
    const result = await injector.run(fault, { holdMs });
    faults.push(result);
    const recovered = result.skipped || fault === "bad-inputs" ? "" : result.recoverySeconds === undefined ? "not recovered in time" : `recovered in ${result.recoverySeconds.toFixed(1)} s`;
    log(`  ${[recovered, result.note].filter(Boolean).join("; ")}`);
  }

  stage = "final drain";
  await workload.stopSubmitting();
  const drainSeconds = await injector.recovery(Date.now());
  await workload.stop();
  log(`submissions stopped; ${drainSeconds === undefined ? "some DAGs did not finish in time" : `every DAG finished ${drainSeconds.toFixed(1)} s later`}`);

  stage = "measuring";
  // Let in-flight provider responses settle before counting them.
  await pollUntil("no provider call is in flight", 15_000, () => [...rig.provider!.calls.values()].every((c) => c.inFlight === 0)).catch(() => undefined);
  const m = await measure(rig.observer!, runTag, workload.accepted, rig.provider!, injector.killTimes, injector.windows);
  const outcome = {
    m,
    http: rig.tally,
    exits: rig.exits,
    faults,
    badInputs: injector.badInputs,
    drainSeconds,
    answersByKind: rig.provider!.answersByKind,
    approvals: workload.approvals,
  };
  console.log("");
  console.log(report(outcome));
  console.log("process logs (warnings and errors, most frequent first):");
  for (const line of describeComplaints(scanLogs(runDir))) console.log(line);
  const missed = missedTargets(outcome);
  console.log(missed.length === 0 ? "every target met" : `targets missed: ${missed.join("; ")}`);
  console.log(lastLine(outcome));
  return missed.length === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  const o = optionsOrExit(parseOptions, usage);
  if (!o) return;
  const runDir = mkdtempSync(path.join(os.tmpdir(), "apex-chaos-"));
  const rig = new ChaosRig(runDir, o.appDir, log);
  const removeRunDir = () => {
    if (o.keep) console.error(`chaos: process logs kept in ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  };
  let finishing = false;
  const finish = async (code: number, why?: string): Promise<void> => {
    // A signal's finish wins over the run's own (which may fail as its processes go away).
    if (finishing) return new Promise<void>(() => undefined);
    finishing = true;
    if (why) console.error(why);
    await Promise.race([rig.teardown(), sleep(20_000)]);
    rig.teardownNow();
    removeRunDir();
    process.exit(code);
  };
  process.on("exit", () => rig.teardownNow());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void finish(130, `chaos: ${signal} while ${stage}; stopping every process it started`));
  }
  setTimeout(() => {
    console.error(`chaos: watchdog: still running after ${o.timeoutMs / 1000} s (while ${stage}); killing every process it started`);
    rig.teardownNow();
    removeRunDir();
    process.exit(3);
  }, o.timeoutMs).unref();
  let code: number;
  try {
    code = await chaos(o, rig, runDir);
  } catch (err) {
    console.error("process logs (warnings and errors, most frequent first):");
    for (const line of describeComplaints(scanLogs(runDir))) console.error(line);
    await finish(1, `chaos failed while ${stage}: ${(err as Error).stack ?? String(err)}`);
    return;
  }
  await finish(code);
}

void main();
