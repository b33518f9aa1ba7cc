/** The budget bench's printed report: a line per run, the table of medians, and the ratio lines. */
import { median, percentile } from "../engine/report";
import type { RunResult } from "./call-path";
import type { StoreName } from "./options";
import type { VariantName } from "./variants";
import { textTable } from "../text-table";

/** Every repetition of one variant on one store, in order. */
export interface VariantResults {
  readonly store: StoreName;
  readonly variant: VariantName;
  readonly runs: RunResult[];
}

const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ms = (x: number) => (Number.isNaN(x) ? "-" : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

/** p50/p99 of one run's samples. */
const p50p99 = (xs: readonly number[]) => [percentile(xs, 50), percentile(xs, 99)] as const;

/** The median over the repetitions of each repetition's p50 and p99 ("-" when no call was of that kind). */
function medianPercentiles(runs: readonly RunResult[], samples: (r: RunResult) => readonly number[]): readonly [number, number] {
  const each = runs.filter((r) => samples(r).length > 0).map((r) => p50p99(samples(r)));
  return [median(each.map((x) => x[0])), median(each.map((x) => x[1]))];
}

const pair = ([a, b]: readonly [number, number]) => (Number.isNaN(a) ? "-" : `${ms(a)}/${ms(b)}`);

export function runLine(rep: number, store: StoreName, r: RunResult): string {
  const refusals = Object.entries(r.refusedBy)
    .map(([decision, n]) => `${n} ${decision}`)
    .join(", ");
  const [b50, b99] = p50p99(r.sentBeginMs.length > 0 ? r.sentBeginMs : r.refusedBeginMs);
  return (
    `  rep ${rep} ${store} ${r.variant}: ${r.calls} calls (${r.sent} sent, ${r.refused} refused${refusals ? `: ${refusals}` : ""}) ` +
    `in ${r.seconds.toFixed(2)} s = ${rate(r.callsPerSecond)} calls/s, beginCall p50 ${ms(b50)} ms p99 ${ms(b99)} ms` +
    (r.lockWaiting !== undefined ? `, ${r.lockWaiting.toFixed(1)} connections waiting on a lock (average)` : "")
  );
}

const medianOf = (runs: readonly RunResult[], f: (r: RunResult) => number) => median(runs.map(f));

export function resultsTable(results: readonly VariantResults[]): string {
  const header = [
    "store",
    "variant",
    "calls",
    "sent/refused",
    "wall s",
    "calls/s med (min..max)",
    "beginCall sent ms p50/p99",
    "beginCall refused ms p50/p99",
    "recordAnswer ms p50/p99",
    "lock-waiting connections avg",
  ];
  const rows = results.map((v) => {
    const perSecond = v.runs.map((r) => r.callsPerSecond);
    return [
      v.store,
      v.variant,
      String(v.runs[0]?.calls ?? 0),
      `${medianOf(v.runs, (r) => r.sent)}/${medianOf(v.runs, (r) => r.refused)}`,
      medianOf(v.runs, (r) => r.seconds).toFixed(2),
      `${rate(median(perSecond))} (${rate(Math.min(...perSecond))}..${rate(Math.max(...perSecond))})`,
      pair(medianPercentiles(v.runs, (r) => r.sentBeginMs)),
      pair(medianPercentiles(v.runs, (r) => r.refusedBeginMs)),
      pair(medianPercentiles(v.runs, (r) => r.recordAnswerMs)),
      v.runs[0]?.lockWaiting === undefined ? "-" : medianOf(v.runs, (r) => r.lockWaiting ?? NaN).toFixed(1),
    ];
  });
  return textTable([header, ...rows]);
}

/**
 * `ratio <x> <store> <variant> vs no-budget (calls/s A vs B; beginCall p50 a vs b ms; recordAnswer p50 c vs d ms)`:
 * x = the variant's median calls/s over the no-budget one's on the same store. beginCall is the
 * sent calls' (the refused ones' for a variant that refused more than it sent).
 */
export function ratioLine(v: VariantResults, baseline: VariantResults): string {
  const perSecond = (x: VariantResults) => median(x.runs.map((r) => r.callsPerSecond));
  const mostlyRefused = medianOf(v.runs, (r) => r.refused) > medianOf(v.runs, (r) => r.sent);
  const begin = (x: VariantResults, refused: boolean) => medianPercentiles(x.runs, (r) => (refused ? r.refusedBeginMs : r.sentBeginMs))[0];
  const record = (x: VariantResults) => medianPercentiles(x.runs, (r) => r.recordAnswerMs)[0];
  return (
    `ratio ${(perSecond(v) / perSecond(baseline)).toFixed(2)} ${v.store} ${v.variant} vs no-budget ` +
    `(calls/s ${rate(perSecond(v))} vs ${rate(perSecond(baseline))}; ` +
    `beginCall${mostlyRefused ? " refused" : ""} p50 ${ms(begin(v, mostlyRefused))} vs ${ms(begin(baseline, false))} ms; ` +
    `recordAnswer p50 ${ms(record(v))} vs ${ms(record(baseline))} ms)`
  );
}
