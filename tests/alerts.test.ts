import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { allMetricNames, metrics } from "../app/src/contract/metrics";
import { alertRules, exporterMetrics, postgresExporterJob, prometheusMetrics, ruleFile, ruleFileYaml, targetDownJobs } from "../alerts";
import { metricFamily, metricNamesIn } from "../components/observability/promql-metrics";
import { alertmanagerConfig } from "../components/observability/alertmanager-config";
import { prometheusConfig } from "../components/observability/prometheus-config";
import { apexScrapeJobs } from "../components/observability/scrape-jobs";

const histograms = Object.values(metrics).filter((m) => m.type === "histogram").map((m) => m.name);

describe("alert rules", () => {
  it("are the seed's six with the seed's severities, then the two watching the scrape targets", () => {
    expect(alertRules.map((r) => [r.alert, r.severity])).toEqual([
      ["HighTaskFailureRate", "warning"],
      ["CostOverspend", "critical"],
      ["NoActiveAgents", "critical"],
      ["HighLatency", "warning"],
      ["CircuitBreakerOpen", "critical"],
      ["DatabaseDown", "critical"],
      ["ApexTargetDown", "warning"],
      ["PostgresExporterDown", "warning"],
    ]);
    const byName = Object.fromEntries(alertRules.map((r) => [r.alert, r]));
    expect(byName.HighTaskFailureRate?.for).toBe("5m");
    expect(byName.HighLatency?.for).toBe("5m");
    expect(byName.DatabaseDown?.expr).toBe("pg_up == 0");
    expect(byName.ApexTargetDown?.for).toBe("5m");
    expect(byName.PostgresExporterDown?.expr).toBe('absent(pg_up{job="postgres-exporter"})');
  });

  it("ApexTargetDown watches every generated scrape job but the exporter, which PostgresExporterDown watches", () => {
    for (const platform of [{ kind: "docker" as const }, { kind: "kubernetes" as const, namespace: "apex" }]) {
      const jobs = apexScrapeJobs(platform).map((j) => j.name);
      expect([...targetDownJobs, postgresExporterJob].sort()).toEqual([...jobs].sort());
    }
    expect(targetDownJobs).not.toContain(postgresExporterJob);
    const expr = alertRules.find((r) => r.alert === "ApexTargetDown")!.expr;
    expect(expr).toBe(`up{job=~"${targetDownJobs.join("|")}"} == 0`);
    expect(targetDownJobs).toEqual(expect.arrayContaining(["apex-api", "apex-worker"]));
  });

  it("render severity, summary, a templated description and a runbook_url per rule", () => {
    const parsed = parse(ruleFileYaml(alertRules, { runbookBaseUrl: "https://example.com/runbooks/" })) as ReturnType<typeof ruleFile>;
    const rules = parsed.groups[0]?.rules ?? [];
    expect(rules).toHaveLength(alertRules.length);
    for (const r of rules) {
      expect(r.labels.severity).toMatch(/^(critical|warning)$/);
      expect(r.annotations.summary).toMatch(/\S/);
      expect(r.annotations.description, r.alert).toMatch(/\{\{ \$(value|labels\.\w+)/);
      expect(r.annotations.runbook_url).toBe(`https://example.com/runbooks/${r.alert}.md`);
    }
  });

  it("have a runbook in docs/runbooks for every alert", () => {
    for (const r of alertRules) expect(existsSync(resolve(__dirname, `../docs/runbooks/${r.alert}.md`)), r.alert).toBe(true);
  });

  it("query only contract metrics (or pg_up from postgres_exporter, or Prometheus's own up)", () => {
    const allowed = [...allMetricNames, ...Object.values(exporterMetrics), ...Object.values(prometheusMetrics)];
    expect(Object.values(prometheusMetrics)).toEqual(["up"]);
    for (const r of alertRules) {
      const names = metricNamesIn(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(allowed, `${r.alert} uses ${n}`).toContain(metricFamily(n, histograms));
    }
  });

  it("use Prometheus's up only scoped to this stack's scrape jobs (never every target it scrapes)", () => {
    const jobs = new Set(apexScrapeJobs({ kind: "docker" }).map((j) => j.name));
    const users = alertRules.filter((r) => metricNamesIn(r.expr).includes(prometheusMetrics.up));
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
    expect(() => ruleFile([alertRules[0]!, alertRules[0]!])).toThrow(/duplicate alert name "HighTaskFailureRate"/);
  });
});

describe("alertmanager config", () => {
  it("routes critical and warning to their receivers", () => {
    const cfg = alertmanagerConfig({
      critical: [{ kind: "pagerduty", routingKey: "k" }, { kind: "slack", url: "https://hooks.slack.com/x", channel: "#apex" }],
      warning: [{ kind: "webhook", url: "http://hook.local/alerts" }],
    }) as { route: { routes: { receiver: string; matchers: string[] }[] }; receivers: Record<string, unknown>[] };
    expect(cfg.route.routes).toEqual([
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
