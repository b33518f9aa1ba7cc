/** The chaos run's table, its last line and which targets of issue 12 it missed. */
import type { FaultResult } from "./faults";
import { recoveryBoundMs, recoveryTargetMs } from "./faults";
import type { HttpTally } from "./http-client";
import type { Measurement } from "./measure";
import type { UnexpectedExit } from "./processes";
import type { BadInputResult } from "./workload";
import { textTable } from "../text-table";

export interface ChaosOutcome {
  readonly m: Measurement;
  readonly http: HttpTally;
  readonly exits: readonly UnexpectedExit[];
  readonly faults: readonly FaultResult[];
  readonly badInputs?: BadInputResult;
  /** Seconds from the end of submissions until every DAG had finished (undefined: not within the bound). */
  readonly drainSeconds?: number;
  /** LLM answers sent by kind of text (nul, surrogate, plain). */
  readonly answersByKind: ReadonlyMap<string, number>;
  /** python tool calls approved (by a key other than the submitter's). */
  readonly approvals: number;
}

const seconds = (s: number | undefined) => (s === undefined ? `not within ${recoveryBoundMs / 1000} s` : `${s.toFixed(1)} s`);

function worstRecovery(o: ChaosOutcome): number | undefined {
  const all = o.faults.filter((f) => f.name !== "bad-inputs" && !f.skipped).map((f) => f.recoverySeconds);
  return all.some((s) => s === undefined) ? undefined : Math.max(0, ...(all as number[]));
}

/** The lost count of the last line: tasks that did not succeed (unfinished, failed, missing). */
export const lostOf = (m: Measurement) => m.unfinished + m.failed + m.missing;

export function missedTargets(o: ChaosOutcome): string[] {
  const missed: string[] = [];
  const { m } = o;
  if (lostOf(m) > 0) missed.push(`lost ${lostOf(m)} (target 0)`);
  if (m.runTwice > 0) missed.push(`run-twice ${m.runTwice} (target 0)`);
  if (m.paidTwice > 0) missed.push(`paid-twice ${m.paidTwice} (target 0)`);
  if (m.unrecorded > 0) missed.push(`unrecorded ${m.unrecorded} (target 0: every paid call in usage)`);
  if (o.exits.length > 0) missed.push(`exits ${o.exits.length} (target 0)`);
  if (o.http.count(500) > 0) missed.push(`http500 ${o.http.count(500)} (target 0)`);
  const worst = worstRecovery(o);
  if (worst === undefined || worst * 1000 > recoveryTargetMs) missed.push(`worst recovery ${seconds(worst)} (target 60 s)`);
  if (o.badInputs && o.badInputs.wrong.length > 0) missed.push(`bad inputs not answered 400: ${o.badInputs.wrong.length} (target 0)`);
  const skipped = o.faults.filter((f) => f.skipped).map((f) => f.name);
  if (skipped.length > 0) missed.push(`faults not injected for lack of time: ${skipped.join(", ")}`);
  return missed;
}

export function report(o: ChaosOutcome): string {
  const { m, http } = o;
  const statuses = [...http.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(", ");
  const rows: string[][] = [
    ["measure", "value", "target", "what it counts"],
    ["tasks submitted", String(m.submitted), "", "tasks of the DAGs the API accepted (201)"],
    ["tasks lost", String(lostOf(m)), "0", `did not succeed: ${m.unfinished} unfinished, ${m.failed} failed/skipped, ${m.missing} accepted but not stored`],
    ["run twice", String(m.runTwice), "0", "tasks with overlapping attempts, two successes, or two provider calls in flight at once"],
    ["provider calls", String(m.providerCalls), "", `requests at the fake provider: ${m.answered} paid answers (replays of an answered idempotency key not counted), ${m.answeredAgain} beyond a task's first`],
    ["calls recorded", String(m.recorded), "", `rows in usage${m.callsTable ? `; ${m.callsTable.rows} in ${m.callsTable.name}` : ""}`],
    ["calls paid twice", String(m.paidTwice), "0", "paid answers beyond a task's first, except right after a SIGKILL that came before the answer was stored"],
    ["calls unrecorded", String(m.unrecorded), "0", "paid answers without a usage row (known or unknown counts) for that task"],
    ["HTTP 500", String(http.count(500)), "0", "internal errors from the API"],
    ["HTTP 503", String(http.count(503)), "", `expected during the database outages; slowest ${(http.slowest503Ms / 1000).toFixed(1)} s (issue: within 5 s)`],
    ["other 5xx", String(http.other5xx), "", "502, 504, ..."],
    ["no HTTP answer", `${http.timeouts}/${http.networkErrors}`, "", "requests timed out after 15 s / connection refused or reset"],
    ["process exits", String(o.exits.length), "0", "apex-api/apex-worker exits the run did not cause"],
    ["worst recovery", seconds(worstRecovery(o)), "60 s", "fault end until every DAG accepted before it finished"],
    ["final drain", seconds(o.drainSeconds), "", "end of submissions until every DAG finished"],
    ["attempt rows", String(m.attemptRows), "", `${m.strandedAttempts} still running on a finished task`],
    [
      "unstorable text",
      String((o.answersByKind.get("nul") ?? 0) + (o.answersByKind.get("surrogate") ?? 0) + m.nulToolSucceeded),
      "",
      `outputs Postgres cannot store as is: ${o.answersByKind.get("nul") ?? 0} LLM answers with a NUL, ${o.answersByKind.get("surrogate") ?? 0} with a lone surrogate, ` +
        `${m.nulToolSucceeded} python runs printing a NUL succeeded (${o.approvals} approvals)`,
    ],
  ];
  if (o.badInputs) rows.push(["bad inputs", `${o.badInputs.sent - o.badInputs.wrong.length}/${o.badInputs.sent}`, "all", "NUL/lone surrogate in a text field answered 400"]);
  const lines = [textTable(rows), "", `HTTP statuses: ${statuses || "none"}`];
  lines.push("faults:");
  for (const f of o.faults) {
    const outcome = f.skipped || f.name === "bad-inputs" ? "" : ` recovered in ${seconds(f.recoverySeconds)}`;
    lines.push(`  ${f.name.padEnd(22)}${outcome}${f.note ? ` (${f.note})` : ""}`);
  }
  if (m.failureSamples.length > 0) lines.push("tasks that did not succeed:", ...m.failureSamples.map((s) => `  ${s}`));
  if (m.runTwiceSamples.length > 0) lines.push("run twice:", ...m.runTwiceSamples.map((s) => `  ${s}`));
  if (m.paidTwiceSamples.length > 0) lines.push("paid twice:", ...m.paidTwiceSamples.map((s) => `  ${s}`));
  if (http.samples500.length > 0) lines.push("HTTP 500 answers:", ...http.samples500.map((s) => `  ${s}`));
  if (o.badInputs && o.badInputs.wrong.length > 0) lines.push("bad inputs:", ...o.badInputs.wrong.slice(0, 10).map((s) => `  ${s}`));
  for (const e of o.exits) lines.push(`exit: ${e.name} (${e.how}):`, e.logTail.replace(/^/gm, "    "));
  return lines.join("\n");
}

export function lastLine(o: ChaosOutcome): string {
  const { m } = o;
  return `chaos: submitted ${m.submitted}, lost ${lostOf(m)}, run-twice ${m.runTwice}, paid-twice ${m.paidTwice}, unrecorded ${m.unrecorded}, exits ${o.exits.length}, http500 ${o.http.count(500)}`;
}
