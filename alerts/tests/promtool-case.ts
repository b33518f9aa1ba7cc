/**
 * The shape of a promtool rule-test case as typed code (rendered to YAML by promtool.ts), and the
 * input-series builders the cases share.
 */
export interface InputSeries { series: string; values: string }
export interface ExpectedAlert { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }
export interface AlertRuleTest { eval_time: string; alertname: string; exp_alerts: ExpectedAlert[] }
export interface TestGroup { name: string; interval: string; input_series: InputSeries[]; alert_rule_test: AlertRuleTest[] }
export interface PromtoolTestFile { rule_files: string[]; evaluation_interval: string; tests: TestGroup[] }

/** The evaluation interval of the tests (and the step between a boundary case's two evaluations). */
export const testEvaluationInterval = "1m";

/**
 * A case that pins an alert's `for`: its condition holds from `conditionFrom` on, so the group
 * expects it silent at conditionFrom + for - 1m and firing at conditionFrom + for. Not rendered
 * (promtool rejects unknown keys); tests/alerts.test.ts checks every `for` has one.
 */
export interface ForBoundary { readonly alert: string; readonly conditionFrom: string }
export interface PromtoolCase { readonly group: TestGroup; readonly boundary?: ForBoundary }

export type Firing = (alert: string, labels: Record<string, string>, annotations: { summary?: string; description: string }) => ExpectedAlert;

export const series = (name: string, labels: Record<string, string>, values: string): InputSeries => ({
  series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ")}}`,
  values,
});

/**
 * Cumulative `_bucket` and `_count` series for a histogram observing `perMinute` (upper bound ->
 * count, fractions allowed) every minute.
 */
export function histogram(name: string, labels: Record<string, string>, buckets: readonly number[], perMinute: ReadonlyMap<number, number>, minutes: number): InputSeries[] {
  const bounds = [...buckets.map(String), "+Inf"];
  let cumulative = 0;
  const out = bounds.map((le, i) => {
    const bound = i < buckets.length ? buckets[i]! : Infinity;
    for (const [ub, n] of perMinute) if (ub === bound) cumulative += n;
    return series(`${name}_bucket`, { ...labels, le }, `0+${cumulative}x${minutes}`);
  });
  return [...out, series(`${name}_count`, labels, `0+${cumulative}x${minutes}`)];
}
