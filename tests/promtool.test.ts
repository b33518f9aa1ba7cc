import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderStackFiles, stackPrometheusConfig } from "../components/observability/render";
import { stackObservability } from "../scripts/stack-config";
import { alertRules } from "../alerts";

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

function writeStack(stack: string): string {
  const dir = join(work, stack);
  const { settings, platform } = stackObservability({ stack });
  for (const [path, content] of Object.entries(renderStackFiles({ stack, settings, platform }))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe.skipIf(!promtool && !inCi)("promtool", () => {
  it("is installed (CI installs Debian's prometheus package)", () => {
    expect(promtool, "promtool missing in CI: .ci/run should have installed the `prometheus` package").toBe(true);
  });

  it.each(["dev", "prod"])("%s: promtool check config passes with the rule files resolved, and the rules pass check rules", (stack) => {
    const dir = writeStack(stack);
    const config = run(["check", "config", join(dir, "prometheus.yml")]);
    expect(config.output).toContain("SUCCESS: 1 rule files found");
    expect(config.output).toContain(`SUCCESS: ${alertRules.length} rules found`);
    expect(config.ok, config.output).toBe(true);
    const rules = run(["check", "rules", join(dir, "rules/apex-alerts.yml")]);
    expect(rules.ok, rules.output).toBe(true);
  });

  it.each(["dev", "prod"])("%s: the deployed prometheus.yml (absolute rule path) is valid too", (stack) => {
    const { settings, platform } = stackObservability({ stack });
    const file = join(work, `${stack}-deployed.yml`);
    writeFileSync(file, stackPrometheusConfig({ stack, settings, platform }));
    const r = run(["check", "config", file]);
    expect(r.ok, r.output).toBe(true);
  });

  it("promtool test rules: every alert fires just above its threshold and stays silent at or below it", () => {
    const dir = writeStack("prod");
    const r = run(["test", "rules", join(dir, "rules-tests/apex-alerts.test.yml")]);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain("SUCCESS");
  });

  it("the unit tests catch a moved threshold or a broken annotation template", () => {
    const dir = writeStack("prod");
    const rules = join(dir, "rules/apex-alerts.yml");
    const original = readFileSync(rules, "utf8");
    const mutations: [string, string, string][] = [
      ["> 0.05", "> 0.052", "HighTaskFailureRate"],
      ["> 10\n", "> 11\n", "CostOverspend"],
      ["== 2\n", "== 1\n", "CircuitBreakerOpen"],
      ["> 30\n", "> 33\n", "HighLatency"],
      ['{{ $value | printf "%.2f" }}', "{{ $value }}", "CostOverspend"],
      ["== 0\n        for: 5m\n", "== 0\n        for: 4m\n", "ApexTargetDown"],
      ['up{job=~"apex-api|', 'up{job=~"apex-apiX|', "ApexTargetDown"],
      ['absent(pg_up{job="postgres-exporter"})\n        for: 5m\n', 'absent(pg_up{job="postgres-exporter"})\n        for: 4m\n', "PostgresExporterDown"],
      ['absent(pg_up{job="postgres-exporter"})', "absent(pg_up)", "PostgresExporterDown"],
    ];
    for (const [from, to, alert] of mutations) {
      expect(original, `mutation anchor ${from}`).toContain(from);
      writeFileSync(rules, original.replace(from, to));
      const r = run(["test", "rules", join(dir, "rules-tests/apex-alerts.test.yml")]);
      expect(r.ok, `mutation ${from} -> ${to} was not caught`).toBe(false);
      expect(r.output).toContain(alert);
    }
    writeFileSync(rules, original);
  });

  it("npm run render -- --stack prod writes files that pass promtool", () => {
    const out = join(work, "render-prod");
    execFileSync(process.execPath, [join(projectDir, "node_modules/tsx/dist/cli.mjs"), join(projectDir, "scripts/render.ts"), "--stack", "prod", "--out", out], { encoding: "utf8" });
    expect(run(["check", "config", join(out, "prometheus.yml")]).ok).toBe(true);
    expect(run(["test", "rules", join(out, "rules-tests/apex-alerts.test.yml")]).ok).toBe(true);
    expect(readFileSync(join(out, "alertmanager.yml"), "utf8")).toContain("receiver: critical");
  });
});
