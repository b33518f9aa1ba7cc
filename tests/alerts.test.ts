import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { allMetricNames, metrics } from "../app/src/contract/metrics";
import {
  alertRules,
  exporterMetrics,
  kubernetesMetrics,
  postgresExporterJob,
  promtoolCases,
  prometheusMetrics,
  repoRunbookBaseUrl,
  ruleFile,
  ruleFileYaml,
  rulesFor,
  runbookBaseUrlProblem,
  targetDownJobs,
  targetDownJobsFor,
  testEvaluationInterval,
  thresholds,
  type AlertRule,
  type AlertTarget,
} from "../alerts";
import { metricFamily, metricNamesIn } from "../components/observability/promql-metrics";
import { alertmanagerConfig } from "../components/observability/alertmanager-config";
import { prometheusConfig } from "../components/observability/prometheus-config";
import { apexScrapeJobs } from "../components/observability/scrape-jobs";

const histograms = Object.values(metrics).filter((m) => m.type === "histogram").map((m) => m.name);
const base = "https://git.ops.internal/platform/apex/-/blob/main/docs/runbooks";
const byName = Object.fromEntries(rulesFor("kubernetes").map((r) => [r.alert, r])) as Record<string, AlertRule>;
/** Every rule list a stack can render: per target, and Kubernetes scoped to a namespace or not. */
const ruleSets: { label: string; target: AlertTarget; namespace?: string }[] = [
  { label: "docker", target: "docker" },
  { label: "kubernetes", target: "kubernetes" },
  { label: "kubernetes (namespace apex-prod)", target: "kubernetes", namespace: "apex-prod" },
];

/** Minutes of a Prometheus duration made of m/h parts ("1h30m"), the only units the rules and tests use. */
function minutes(d: string): number {
  const parts = [...d.matchAll(/(\d+)([mh])/g)];
  if (parts.map((p) => p[0]).join("") !== d) throw new Error(`duration "${d}" is not in m/h`);
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * (u === "h" ? 60 : 1), 0);
}

describe("alert rules", () => {
  it("are the Watchdog, the seed's six, BudgetNearlyExhausted and TaskQueueStalled with their severities, then the two watching the scrape targets", () => {
    expect(alertRules.map((r) => [r.alert, r.severity, r.for])).toEqual([
      ["Watchdog", "none", undefined],
      ["HighTaskFailureRate", "warning", "5m"],
      ["CostOverspend", "critical", undefined],
      ["BudgetNearlyExhausted", "warning", "1m"],
      ["NoActiveAgents", "critical", "1m"],
      ["TaskQueueStalled", "critical", "1m"],
      ["HighLatency", "warning", "5m"],
      ["CircuitBreakerOpen", "critical", "1m"],
      ["DatabaseDown", "critical", "1m"],
      ["ApexTargetDown", "warning", "5m"],
      ["PostgresExporterDown", "warning", "5m"],
    ]);
    expect(byName.DatabaseDown?.expr).toBe("pg_up == 0");
    expect(byName.PostgresExporterDown?.expr).toBe('absent(pg_up{job="postgres-exporter"})');
  });

  it("Watchdog always fires, pages nobody and says it is the dead man's switch", () => {
    const w = byName.Watchdog!;
    expect(w.expr).toBe("vector(1)");
    expect(w.for).toBeUndefined();
    expect(w.description).toMatch(/dead man's switch/);
    expect(w.description).toContain('"deadmansswitch"');
  });

  it("NoActiveAgents watches the slots of live workers (and their absence); TaskQueueStalled the oldest wait", () => {
    expect(byName.NoActiveAgents?.expr).toBe("max(apex_active_agents) == 0 or absent(apex_active_agents) * 0");
    expect(byName.TaskQueueStalled?.expr).toBe(`max(${metrics.queueOldestWait.name}) > ${thresholds.queueOldestWaitSeconds}`);
    expect(thresholds.queueOldestWaitSeconds).toBe(300);
    expect(byName.TaskQueueStalled?.description).toContain(metrics.workersAlive.name);
  });

  it("BudgetNearlyExhausted: per budget (max over replicas), 20% or less of its USD or token limit left, a $0 or 0-token limit left out", () => {
    const left = (remaining: string, limit: string, kind: string) =>
      `label_replace(max by (scope, scope_id, period) (${remaining}) / (max by (scope, scope_id, period) (${limit}) > 0) <= 0.2, "limit", "${kind}", "", "")`;
    expect(byName.BudgetNearlyExhausted?.expr).toBe(
      `${left(metrics.budgetRemainingUsd.name, metrics.budgetLimitUsd.name, "usd")} or ${left(metrics.budgetRemainingTokens.name, metrics.budgetLimitTokens.name, "tokens")}`,
    );
    expect(thresholds.budgetLeftShare).toBe(0.2);
    for (const m of [metrics.budgetRemainingUsd, metrics.budgetLimitUsd, metrics.budgetRemainingTokens, metrics.budgetLimitTokens]) {
      expect(m.labels, m.name).toEqual(["scope", "scope_id", "period"]);
      expect(m.scope, m.name).toBe("cluster");
    }
    for (const label of ["period", "scope", "scope_id"]) expect(byName.BudgetNearlyExhausted?.summary).toContain(`{{ $labels.${label} }}`);
    expect(byName.BudgetNearlyExhausted?.description).toContain("{{ $labels.limit }} limit");
  });

  it("failure rate is failed / (succeeded + failed); HighLatency needs 20 tasks of the kind in the window", () => {
    expect(byName.HighTaskFailureRate?.expr).toBe(
      'sum(rate(apex_tasks_total{status="failed"}[5m])) / sum(rate(apex_tasks_total{status=~"succeeded|failed"}[5m])) > 0.05',
    );
    expect(byName.HighLatency?.expr).toBe(
      "histogram_quantile(0.95, sum by (le, kind) (rate(apex_task_duration_seconds_bucket[5m]))) > 30" +
        " and on (kind) sum by (kind) (increase(apex_task_duration_seconds_count[5m])) >= 20",
    );
  });

  it("rulesFor: docker gets the common rules, kubernetes adds the pod alerts (ApexPvcFillingUp only when the kubelets are scraped)", () => {
    expect(rulesFor("docker")).toEqual(alertRules);
    expect(rulesFor("kubernetes").map((r) => r.alert)).not.toContain("ApexPvcFillingUp");
    expect(rulesFor("kubernetes", { kubeletVolumeStats: false })).toEqual(rulesFor("kubernetes"));
    expect(() => rulesFor("docker", { kubeletVolumeStats: true })).toThrow(/kubeletVolumeStats is only for the kubernetes target/);
    const k8s = rulesFor("kubernetes", { kubeletVolumeStats: true });
    expect(k8s.slice(0, alertRules.length).map((r) => r.alert)).toEqual(alertRules.map((r) => r.alert));
    // The same rules but ApexTargetDown, which also watches the Kubernetes-only scrape jobs.
    for (const [i, r] of alertRules.entries()) if (r.alert !== "ApexTargetDown") expect(k8s[i], r.alert).toEqual(r);
    expect(k8s.slice(alertRules.length).map((r) => [r.alert, r.severity, r.for])).toEqual([
      ["ApexPodOOMKilled", "warning", undefined],
      ["ApexPodCrashLooping", "warning", "15m"],
      ["ApexHpaAtMaxReplicas", "warning", "15m"],
      ["ApexPvcFillingUp", "warning", "5m"],
    ]);
    expect(() => rulesFor("swarm" as AlertTarget)).toThrow(/unknown target "swarm"/);
  });

  it("the pod alerts match only the given namespace, on every series they select", () => {
    for (const r of rulesFor("kubernetes", { namespace: "apex-prod" }).slice(alertRules.length)) {
      const selectors = [...r.expr.matchAll(/\b(kube_\w+|kubelet_\w+)(\{[^}]*\})?/g)];
      expect(selectors.length, r.alert).toBeGreaterThan(0);
      for (const [, name, matchers] of selectors) expect(matchers ?? "", `${r.alert}: ${name}`).toContain('namespace="apex-prod"');
    }
    for (const r of rulesFor("kubernetes").slice(alertRules.length)) expect(r.expr, r.alert).not.toContain("namespace=");
    expect(() => rulesFor("kubernetes", { namespace: "Apex_Prod" })).toThrow(/namespace "Apex_Prod" is not a Kubernetes namespace name/);
  });

  it("ApexTargetDown watches every generated scrape job of its target but the exporter, which PostgresExporterDown watches", () => {
    for (const platform of [{ kind: "docker" as const }, { kind: "kubernetes" as const, namespace: "apex" }]) {
      const jobs = apexScrapeJobs(platform).map((j) => j.name);
      const watched = targetDownJobsFor(platform.kind);
      expect([...watched, postgresExporterJob].sort()).toEqual([...jobs].sort());
      expect(watched).not.toContain(postgresExporterJob);
      expect(watched).toEqual(expect.arrayContaining(["apex-api", "apex-worker"]));
      expect(rulesFor(platform.kind).find((r) => r.alert === "ApexTargetDown")?.expr).toBe(`up{job=~"${watched.join("|")}"} == 0`);
    }
    expect(targetDownJobs).toEqual(targetDownJobsFor("docker"));
  });

  it.each(ruleSets)("$label: render severity, summary, a templated description and a runbook_url per rule", ({ target, namespace }) => {
    const rules = rulesFor(target, { namespace });
    const parsed = parse(ruleFileYaml(rules, { runbookBaseUrl: `${base}/` })) as ReturnType<typeof ruleFile>;
    const rendered = parsed.groups[0]?.rules ?? [];
    expect(rendered).toHaveLength(rules.length);
    for (const r of rendered) {
      expect(r.labels.severity).toMatch(r.alert === "Watchdog" ? /^none$/ : /^(critical|warning)$/);
      expect(r.annotations.summary).toMatch(/\S/);
      if (r.alert !== "Watchdog") expect(r.annotations.description, r.alert).toMatch(/\{\{ \$(value|labels\.\w+)/);
      expect(r.annotations.runbook_url).toBe(`${base}/${r.alert}.md`);
    }
  });

  it("have a runbook in docs/runbooks for every alert of every target, reachable through the file:// base", () => {
    expect(repoRunbookBaseUrl()).toMatch(/^file:\/\/\/.+\/docs\/runbooks$/);
    for (const r of rulesFor("kubernetes")) {
      const url = ruleFile([r], { runbookBaseUrl: repoRunbookBaseUrl() }).groups[0]!.rules[0]!.annotations.runbook_url!;
      expect(existsSync(fileURLToPath(url)), `${r.alert}: ${url}`).toBe(true);
    }
  });

  it("query only contract metrics, exporters' metrics or Prometheus's up; Kubernetes metrics only in Kubernetes rules", () => {
    const common = [...allMetricNames, ...Object.values(exporterMetrics), ...Object.values(prometheusMetrics)];
    expect(Object.values(prometheusMetrics)).toEqual(["up"]);
    const check = (rules: readonly AlertRule[], allowed: readonly string[]) => {
      for (const r of rules) {
        const names = metricNamesIn(r.expr);
        if (r.alert !== "Watchdog") expect(names.length, r.alert).toBeGreaterThan(0);
        for (const n of names) expect(allowed, `${r.alert} uses ${n}`).toContain(metricFamily(n, histograms));
      }
    };
    check(alertRules, common);
    check(rulesFor("kubernetes").slice(alertRules.length), Object.values(kubernetesMetrics));
    expect(metricNamesIn(byName.Watchdog!.expr)).toEqual([]);
  });

  it("use Prometheus's up only scoped to this stack's scrape jobs (never every target it scrapes)", () => {
    const jobs = new Set(apexScrapeJobs({ kind: "kubernetes", namespace: "apex" }).map((j) => j.name));
    const users = rulesFor("kubernetes").filter((r) => metricNamesIn(r.expr).includes(prometheusMetrics.up));
    expect(users.map((r) => r.alert)).toEqual(["ApexTargetDown"]);
    for (const r of users) {
      const selectors = [...r.expr.matchAll(/\bup(\{[^}]*\})?/g)];
      for (const [, matchers] of selectors) {
        const job = /job=~"([^"]+)"/.exec(matchers ?? "");
        expect(job, `${r.alert}: up without a job=~ matcher`).not.toBeNull();
        for (const name of job![1]!.split("|")) expect(jobs, `${r.alert}: job ${name}`).toContain(name);
      }
    }
  });

  it("reject duplicate alert names", () => {
    expect(() => ruleFile([alertRules[1]!, alertRules[1]!], { runbookBaseUrl: base })).toThrow(/duplicate alert name "HighTaskFailureRate"/);
  });
});

describe("runbook_url base (apex:observability.runbookBaseUrl)", () => {
  it.each([
    ["docs/runbooks", /not an absolute URL/],
    ["./docs/runbooks", /not an absolute URL/],
    ["/srv/docs/runbooks", /not an absolute URL/],
    ["ftp://docs.acme.io/runbooks", /scheme "ftp:"/],
    ["https://example.com/runbooks", /placeholder host "example.com"/],
    ["https://docs.example.org/apex", /placeholder host "docs.example.org"/],
    ["http://wiki.example.net", /placeholder host/],
    ["https://runbooks.invalid/apex", /placeholder host "runbooks.invalid"/],
    ["https://apex.example/runbooks", /placeholder host/],
    ["https://github.com/example/apex/blob/main/docs/runbooks", /placeholder github.com\/example/],
    ["file:///", /names no directory/],
  ])("refuses %s, naming the key", (url, why) => {
    expect(runbookBaseUrlProblem(url)).toMatch(why);
    expect(() => ruleFile(alertRules, { runbookBaseUrl: url })).toThrow(/^apex:observability\.runbookBaseUrl: /);
    expect(() => ruleFileYaml(alertRules, { runbookBaseUrl: url })).toThrow(why);
  });

  it.each([
    base,
    "https://github.com/acme/apex/blob/main/docs/runbooks/",
    "https://github.com/examplecorp/apex/tree/main/docs/runbooks",
    "http://localhost:8000/runbooks",
    "http://127.0.0.1:3000/docs/runbooks",
    "file:///home/dev/apex/docs/runbooks",
  ])("accepts %s", (url) => {
    expect(runbookBaseUrlProblem(url)).toBeUndefined();
    const rule = ruleFile([byName.DatabaseDown!], { runbookBaseUrl: url }).groups[0]!.rules[0]!;
    expect(rule.annotations.runbook_url).toBe(`${url.replace(/\/+$/, "")}/DatabaseDown.md`);
  });

  it("accepts this checkout's docs/runbooks as a file:// URL (the dev default)", () => {
    expect(runbookBaseUrlProblem(repoRunbookBaseUrl())).toBeUndefined();
  });
});

describe("promtool unit tests (alerts/tests/promtool.ts)", () => {
  const step = minutes(testEvaluationInterval);

  it.each(ruleSets)("$label: every alert with a for: has a boundary case (silent one evaluation before, firing at it)", ({ target, namespace }) => {
    const cases = promtoolCases(base, target, { namespace });
    for (const rule of rulesFor(target, { namespace }).filter((r) => r.for)) {
      const boundaries = cases.filter((c) => c.boundary?.alert === rule.alert);
      expect(boundaries.length, `${rule.alert} (for: ${rule.for}) has no boundary case`).toBeGreaterThan(0);
      for (const c of boundaries) {
        const due = minutes(c.boundary!.conditionFrom) + minutes(rule.for!);
        const at = (t: number) => c.group.alert_rule_test.find((x) => x.alertname === rule.alert && minutes(x.eval_time) === t);
        expect(at(due - step)?.exp_alerts, `${c.group.name}: no silent evaluation at ${due - step}m`).toEqual([]);
        expect(at(due)?.exp_alerts.length, `${c.group.name}: no firing evaluation at ${due}m`).toBeGreaterThan(0);
      }
    }
  });

  it.each(ruleSets)("$label: every alert has a case where it fires and one where it stays silent", ({ target, namespace }) => {
    const evals = promtoolCases(base, target, { namespace }).flatMap((c) => c.group.alert_rule_test);
    for (const rule of rulesFor(target, { namespace })) {
      const mine = evals.filter((e) => e.alertname === rule.alert);
      expect(mine.some((e) => e.exp_alerts.length > 0), `${rule.alert} never expected to fire`).toBe(true);
      if (rule.alert !== "Watchdog") expect(mine.some((e) => e.exp_alerts.length === 0), `${rule.alert} never expected silent`).toBe(true);
    }
  });

  it("a boundary case names an alert of the rule list and a for: it has", () => {
    for (const c of promtoolCases(base, "kubernetes")) {
      if (!c.boundary) continue;
      expect(byName[c.boundary.alert]?.for, c.group.name).toBeDefined();
    }
  });
});

describe("alertmanager config", () => {
  it("routes critical and warning to their receivers", () => {
    const cfg = alertmanagerConfig({
      critical: [{ kind: "pagerduty", routingKey: "k" }, { kind: "slack", url: "https://hooks.slack.com/x", channel: "#apex" }],
      warning: [{ kind: "webhook", url: "http://hook.local/alerts" }],
    }) as { route: { routes: { receiver: string; matchers: string[] }[] }; receivers: Record<string, unknown>[] };
    expect(cfg.route.routes).toEqual([
      expect.objectContaining({ receiver: "deadmansswitch", matchers: ['alertname="Watchdog"'] }),
      expect.objectContaining({ receiver: "blackhole", matchers: ['severity="none"'] }),
      expect.objectContaining({ receiver: "critical", matchers: ['severity="critical"'] }),
      expect.objectContaining({ receiver: "warning", matchers: ['severity="warning"'] }),
    ]);
    const critical = cfg.receivers.find((r) => r.name === "critical");
    expect(critical?.pagerduty_configs).toEqual([expect.objectContaining({ routing_key: "k", severity: "critical" })]);
    expect(critical?.slack_configs).toEqual([expect.objectContaining({ api_url: "https://hooks.slack.com/x", channel: "#apex" })]);
    expect(cfg.receivers.find((r) => r.name === "warning")?.webhook_configs).toEqual([{ url: "http://hook.local/alerts", send_resolved: true }]);
  });

  it("names the receiver whose URL is bad", () => {
    expect(() => alertmanagerConfig({ critical: [], warning: [{ kind: "slack", url: "hooks.slack.com" }] })).toThrow(/warning\[0\] \(slack\): url must start with http/);
  });
});

describe("prometheus config generator", () => {
  const base = { scrapeInterval: "5s", evaluationInterval: "5s", ruleFiles: ["rules/*.yml"], alertmanagers: [] };
  it("takes local targets and short intervals (for end-to-end runs)", () => {
    const cfg = prometheusConfig({ ...base, jobs: [{ name: "apex-api", discovery: { kind: "static", targets: ["127.0.0.1:41234"] } }] }) as Record<string, unknown>;
    expect(cfg.global).toEqual({ scrape_interval: "5s", evaluation_interval: "5s", scrape_timeout: "5s" });
    expect(cfg.scrape_configs).toEqual([{ job_name: "apex-api", metrics_path: "/metrics", static_configs: [{ targets: ["127.0.0.1:41234"] }] }]);
    expect(cfg.alerting).toBeUndefined();
  });

  it("rejects bad input naming the field", () => {
    expect(() => prometheusConfig({ ...base, scrapeInterval: "15 seconds", jobs: [] })).toThrow(/scrapeInterval: expected a Prometheus duration/);
    expect(() => prometheusConfig({ ...base, jobs: [{ name: "a", discovery: { kind: "static", targets: ["nohost"] } }] })).toThrow(/jobs\[0\]\.discovery\.targets\[0\]: expected host:port/);
    expect(() => prometheusConfig({ ...base, scrapeTimeout: "10s", jobs: [] })).toThrow(/scrapeTimeout: "10s" is longer than scrapeInterval/);
    const job = { name: "x", discovery: { kind: "dns" as const, names: ["x"], port: 1 } };
    expect(() => prometheusConfig({ ...base, jobs: [job, job] })).toThrow(/jobs\[1\]\.name: duplicate job "x"/);
  });
});
