import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse, parseDocument, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { renderStackFiles, stackPrometheusConfig } from "../components/observability/render";
import { stackObservability } from "../scripts/stack-config";
import { kubeletJobName } from "../components/observability/scrape-jobs";
import { operatorStackFile } from "./harness";
import { rulesFor, type AlertTarget, type PromtoolTestFile, type RuleFile } from "../alerts";

const promtool = spawnSync("promtool", ["--version"]).status === 0;
const inCi = process.env.CI === "true";
if (!promtool && !inCi) {
  console.warn("promtool not found: skipping the promtool tests. Install it with `apt-get install prometheus` (Debian/Ubuntu) or put the promtool binary from https://prometheus.io/download/ on PATH.");
}
const projectDir = resolve(__dirname, "..");
const work = mkdtempSync(join(tmpdir(), "apex-promtool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync("promtool", args, { encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/**
 * The stack files under test: dev, prod, and prod with the kubelet volume stats turned on
 * ("prod+kubelet": apex:observability.kubeletVolumeStats and the node CIDRs it needs).
 */
type Variant = "dev" | "prod" | "prod+kubelet";
const stackOf = (variant: Variant): string => (variant === "prod+kubelet" ? "prod" : variant);
const nodeCidrs = ["10.0.0.0/16"];

/** The committed prod file leaves apex:observability.runbookBaseUrl to the operator: read a copy that sets it. */
const stackFileOf = (variant: Variant): string => {
  const dir = join(work, "stack-files", variant);
  mkdirSync(dir, { recursive: true });
  const file = operatorStackFile(stackOf(variant), dir);
  if (variant === "prod+kubelet") {
    const doc = parseDocument(readFileSync(file, "utf8"));
    doc.setIn(["config", "apex:observability", "kubeletVolumeStats"], true);
    doc.setIn(["config", "apex:observability", "nodeCidrs"], doc.createNode(nodeCidrs));
    writeFileSync(file, doc.toString());
  }
  return file;
};

const observabilityOf = (variant: Variant) => stackObservability({ stack: stackOf(variant), file: stackFileOf(variant) });
const targetOf = (variant: Variant): AlertTarget => observabilityOf(variant).platform.kind;
/** The stack's rules, as the renderer scopes them. */
const rulesOf = (variant: Variant) => {
  const { settings, platform } = observabilityOf(variant);
  return rulesFor(platform.kind, platform.kind === "kubernetes" ? { namespace: platform.namespace, kubeletVolumeStats: settings.kubeletVolumeStats } : {});
};

function writeStack(variant: Variant): string {
  const dir = join(work, variant);
  const stack = stackOf(variant);
  const { settings, platform } = observabilityOf(variant);
  for (const [path, content] of Object.entries(renderStackFiles({ stack, settings, platform }))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/**
 * prometheus.yml without the `kubelet` job. Debian's promtool (2.42+ds) is built without
 * Kubernetes service discovery and refuses `kubernetes_sd_configs` (the deployed
 * prom/prometheus image has it), so the config with the kubelet job is checked by promtool with
 * only that job removed; the job itself is checked field by field in tests/observability-kube.test.ts.
 */
function withoutKubeletJob(configYaml: string): string {
  const config = parse(configYaml) as { scrape_configs: { job_name: string }[] };
  const before = config.scrape_configs.length;
  config.scrape_configs = config.scrape_configs.filter((j) => j.job_name !== kubeletJobName);
  expect(config.scrape_configs.length, "no kubelet job to remove").toBe(before - 1);
  return stringify(config, { lineWidth: 0 });
}

const ruleFilePath = (dir: string) => join(dir, "rules/apex-alerts.yml");
const testFilePath = (dir: string) => join(dir, "rules-tests/apex-alerts.test.yml");

/**
 * `promtool test rules` on a mutated copy of a stack's rule file, with only the test groups that
 * evaluate `alert` (a mutation of one rule shows in its own cases; the others only add time).
 */
async function testMutant(dir: string, name: string, rulesYaml: string, alert: string): Promise<{ ok: boolean; output: string }> {
  const mutant = join(work, "mutants", `${name}`);
  mkdirSync(join(mutant, "rules"), { recursive: true });
  mkdirSync(join(mutant, "rules-tests"), { recursive: true });
  writeFileSync(ruleFilePath(mutant), rulesYaml);
  const tests = parse(readFileSync(testFilePath(dir), "utf8")) as PromtoolTestFile;
  tests.tests = tests.tests.filter((t) => t.alert_rule_test.some((a) => a.alertname === alert));
  expect(tests.tests.length, `no test group evaluates ${alert}`).toBeGreaterThan(0);
  writeFileSync(testFilePath(mutant), stringify(tests, { lineWidth: 0 }));
  return new Promise((done) =>
    execFile("promtool", ["test", "rules", testFilePath(mutant)], { encoding: "utf8" }, (err, stdout, stderr) => done({ ok: !err, output: `${stdout}${stderr}` })),
  );
}

/** Runs `jobs` at most `width` at a time. */
async function pooled<T>(jobs: (() => Promise<T>)[], width = 4): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

/** Minutes of a Prometheus duration in m/h ("1h30m"). */
const minutes = (d: string): number => [...d.matchAll(/(\d+)([mh])/g)].reduce((sum, [, n, u]) => sum + Number(n) * (u === "h" ? 60 : 1), 0);

describe.skipIf(!promtool && !inCi)("promtool", () => {
  it("is installed (CI installs Debian's prometheus package)", () => {
    expect(promtool, "promtool missing in CI: .ci/run should have installed the `prometheus` package").toBe(true);
  });

  it.each(["dev", "prod"] as const)("%s: promtool check config passes with the rule files resolved, and the rules pass check rules", (variant) => {
    const dir = writeStack(variant);
    const config = run(["check", "config", join(dir, "prometheus.yml")]);
    expect(config.output).toContain("SUCCESS: 1 rule files found");
    expect(config.output).toContain(`SUCCESS: ${rulesOf(variant).length} rules found`);
    expect(config.ok, config.output).toBe(true);
    const rules = run(["check", "rules", ruleFilePath(dir)]);
    expect(rules.ok, rules.output).toBe(true);
  });

  it("prod+kubelet: promtool check config passes on everything but the kubelet job (promtool cannot parse it), and check rules", () => {
    const dir = writeStack("prod+kubelet");
    const full = readFileSync(join(dir, "prometheus.yml"), "utf8");
    // What this promtool says about the full file: Kubernetes discovery is compiled out, nothing else is wrong.
    const refused = run(["check", "config", join(dir, "prometheus.yml")]);
    expect(refused.ok).toBe(false);
    expect(refused.output).toMatch(/kubernetes_sd_configs/);
    writeFileSync(join(dir, "prometheus.yml"), withoutKubeletJob(full));
    const config = run(["check", "config", join(dir, "prometheus.yml")]);
    expect(config.output).toContain(`SUCCESS: ${rulesOf("prod+kubelet").length} rules found`);
    expect(config.ok, config.output).toBe(true);
    const rules = run(["check", "rules", ruleFilePath(dir)]);
    expect(rules.ok, rules.output).toBe(true);
  });

  it.each(["dev", "prod", "prod+kubelet"] as const)("%s: the deployed prometheus.yml (absolute rule path) is valid too", (variant) => {
    const { settings, platform } = observabilityOf(variant);
    const file = join(work, `${variant}-deployed.yml`);
    const deployed = stackPrometheusConfig({ stack: stackOf(variant), settings, platform });
    writeFileSync(file, variant === "prod+kubelet" ? withoutKubeletJob(deployed) : deployed);
    const r = run(["check", "config", file]);
    expect(r.ok, r.output).toBe(true);
  });

  it("the PVC alert is in the rule file exactly when the kubelets are scraped", () => {
    const alertsOf = (variant: Variant) => (parse(readFileSync(ruleFilePath(writeStack(variant)), "utf8")) as RuleFile).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const jobsOf = (variant: Variant) => (parse(readFileSync(join(writeStack(variant), "prometheus.yml"), "utf8")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
    expect(alertsOf("prod")).not.toContain("ApexPvcFillingUp");
    expect(jobsOf("prod")).not.toContain(kubeletJobName);
    expect(alertsOf("prod+kubelet")).toContain("ApexPvcFillingUp");
    expect(jobsOf("prod+kubelet")).toContain(kubeletJobName);
    expect(alertsOf("prod+kubelet").filter((a) => a !== "ApexPvcFillingUp")).toEqual(alertsOf("prod"));
  });

  it.each(["dev", "prod", "prod+kubelet"] as const)("%s: the rule file holds its target's rules, and the unit tests cover each of them", (variant) => {
    const dir = writeStack(variant);
    const alerts = (parse(readFileSync(ruleFilePath(dir), "utf8")) as RuleFile).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(rulesOf(variant).map((r) => r.alert));
    const tests = parse(readFileSync(testFilePath(dir), "utf8")) as PromtoolTestFile;
    const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const alert of alerts) expect(fired, `${variant}: no promtool case fires ${alert}`).toContain(alert);
    // No case for a rule the file does not have (promtool would only see it silent).
    for (const alert of fired) expect(alerts, `${variant}: a promtool case expects ${alert}, which is not rendered`).toContain(alert);
  });

  it.each(["dev", "prod", "prod+kubelet"] as const)("%s: promtool test rules: every alert fires just above its threshold, silent at or below, at its for: boundary", (variant) => {
    const dir = writeStack(variant);
    const r = run(["test", "rules", testFilePath(dir)]);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain("SUCCESS");
  });

  it("the unit tests catch a moved threshold, a dropped matcher or a broken annotation template", async () => {
    const dir = writeStack("prod+kubelet");
    const original = readFileSync(ruleFilePath(dir), "utf8");
    const mutations: [string, string, string][] = [
      ["> 0.05", "> 0.052", "HighTaskFailureRate"],
      ['{status=~"succeeded|failed"}', "", "HighTaskFailureRate"],
      ["> 10\n", "> 11\n", "CostOverspend"],
      ['<= 0.2, "limit", "usd"', '<= 0.1, "limit", "usd"', "BudgetNearlyExhausted"],
      ['<= 0.2, "limit", "usd"', '< 0.2, "limit", "usd"', "BudgetNearlyExhausted"],
      ['<= 0.2, "limit", "tokens"', '<= 0.05, "limit", "tokens"', "BudgetNearlyExhausted"],
      ["(max by (scope, scope_id, period) (apex_budget_limit_usd) > 0)", "max by (scope, scope_id, period) (apex_budget_limit_usd)", "BudgetNearlyExhausted"],
      ["max by (scope, scope_id, period) (apex_budget_remaining_usd)", "apex_budget_remaining_usd", "BudgetNearlyExhausted"],
      ["{{ $labels.limit }} limit left", "limit left", "BudgetNearlyExhausted"],
      ["== 0 or absent(apex_active_agents)", "< 0 or absent(apex_active_agents)", "NoActiveAgents"],
      ["or absent(apex_active_agents) * 0", "", "NoActiveAgents"],
      ["> 300\n", "> 420\n", "TaskQueueStalled"],
      ["== 2\n", "== 1\n", "CircuitBreakerOpen"],
      ["> 30 and on (kind)", "> 33 and on (kind)", "HighLatency"],
      [">= 20\n", ">= 21\n", "HighLatency"],
      [">= 20\n", ">= 0\n", "HighLatency"],
      ['{{ $value | printf "%.2f" }}', "{{ $value }}", "CostOverspend"],
      ['up{job=~"apex-api|', 'up{job=~"apex-apiX|', "ApexTargetDown"],
      ['absent(pg_up{job="postgres-exporter"})', "absent(pg_up)", "PostgresExporterDown"],
      ...(targetOf("prod+kubelet") === "kubernetes"
        ? ([
            ['reason="OOMKilled"', 'reason="Error"', "ApexPodOOMKilled"],
            ["[10m]) > 0 and on", "[10m]) >= 0 and on", "ApexPodOOMKilled"],
            ['reason="CrashLoopBackOff"}[5m]) >= 1', 'reason=~".+"}[5m]) >= 1', "ApexPodCrashLooping"],
            [" >= kube_horizontalpodautoscaler_spec_max_replicas", " >= 0 * kube_horizontalpodautoscaler_spec_max_replicas", "ApexHpaAtMaxReplicas"],
            ["> 0.85\n", "> 0.87\n", "ApexPvcFillingUp"],
            // A kubelet that cannot be scraped must page: it blinds ApexPvcFillingUp.
            ['|kubelet"} == 0', '"} == 0', "ApexTargetDown"],
          ] as [string, string, string][])
        : []),
    ];
    for (const [from] of mutations) expect(original, `mutation anchor ${from}`).toContain(from);
    const results = await pooled(mutations.map(([from, to, alert], i) => () => testMutant(dir, `m${i}`, original.replace(from, to), alert)));
    for (const [i, [from, to, alert]] of mutations.entries()) {
      expect(results[i]!.ok, `mutation ${from} -> ${to} was not caught`).toBe(false);
      expect(results[i]!.output).toContain(alert);
    }
  }, 120_000);

  it("the unit tests catch any rule's for: one evaluation shorter or longer", async () => {
    const dir = writeStack("prod+kubelet");
    const parsed = parse(readFileSync(ruleFilePath(dir), "utf8")) as RuleFile;
    const withFor = parsed.groups.flatMap((g) => g.rules).filter((r) => r.for);
    expect(withFor.length).toBe(rulesOf("prod+kubelet").filter((r) => r.for).length);
    const cases = withFor.flatMap((rule) =>
      [-1, 1].map((delta) => {
        const changed = structuredClone(parsed);
        const target = changed.groups.flatMap((g) => g.rules).find((r) => r.alert === rule.alert)!;
        target.for = `${minutes(rule.for!) + delta}m`;
        return { alert: rule.alert, from: rule.for!, to: target.for, yaml: stringify(changed, { lineWidth: 0 }) };
      }),
    );
    const results = await pooled(cases.map((c, i) => () => testMutant(dir, `for${i}`, c.yaml, c.alert)));
    for (const [i, c] of cases.entries()) {
      expect(results[i]!.ok, `${c.alert}: for ${c.from} -> ${c.to} was not caught`).toBe(false);
      expect(results[i]!.output).toContain(c.alert);
    }
  }, 120_000);

  it("npm run render -- --file <prod stack file> writes files that pass promtool", () => {
    const out = join(work, "render-prod");
    execFileSync(process.execPath, [join(projectDir, "node_modules/tsx/dist/cli.mjs"), join(projectDir, "scripts/render.ts"), "--file", stackFileOf("prod"), "--out", out], { encoding: "utf8" });
    expect(run(["check", "config", join(out, "prometheus.yml")]).ok).toBe(true);
    expect(run(["test", "rules", join(out, "rules-tests/apex-alerts.test.yml")]).ok).toBe(true);
    expect(readFileSync(join(out, "alertmanager.yml"), "utf8")).toContain("receiver: critical");
  }, 60_000); // a tsx process of its own: over vitest's 30 s when the whole suite loads the machine
});
