/**
 * Metric names referenced by a PromQL expression, so tests can prove that dashboards and alerts
 * only query what the runtime (the contract) or a deployed exporter exposes.
 */
const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // range / subquery windows
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "") // label lists
    .replace(/\$__\w+/g, ""); // Grafana macros
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (!name || call || keywords.has(name.toLowerCase())) continue; // functions and keywords
    names.add(name);
  }
  return [...names];
}

/** The metric family a series name belongs to (histogram `_bucket`/`_sum`/`_count` folded). */
export const metricFamily = (name: string, histograms: readonly string[]): string => {
  for (const h of histograms) if (name === `${h}_bucket` || name === `${h}_sum` || name === `${h}_count`) return h;
  return name;
};

/**
 * Every metric name the dashboards and alert rules query (histogram series folded to their
 * family), for the end-to-end check that the running runtime exposes them all.
 */
export function queriedMetricNames(
  exprs: { readonly dashboards: readonly string[]; readonly alerts: readonly string[] },
  histograms: readonly string[],
): { dashboards: string[]; alerts: string[] } {
  const names = (list: readonly string[]) => [...new Set(list.flatMap((e) => metricNamesIn(e)).map((n) => metricFamily(n, histograms)))].sort();
  return { dashboards: names(exprs.dashboards), alerts: names(exprs.alerts) };
}
