import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { alertmanagerConfigYaml } from "../components/observability/alertmanager-config";
import { alertRules } from "../alerts";

const amtool = spawnSync("amtool", ["--version"]).status === 0;
const inCi = process.env.CI === "true";
if (!amtool && !inCi) console.warn("amtool not found: skipping the Alertmanager config tests. Install it with `apt-get install prometheus-alertmanager`.");

const work = mkdtempSync(join(tmpdir(), "apex-amtool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (args: string[]) => {
  const r = spawnSync("amtool", args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
};

const file = join(work, "alertmanager.yml");
writeFileSync(file, alertmanagerConfigYaml({
  critical: [{ kind: "pagerduty", routingKey: "routing-key" }, { kind: "slack", url: "https://hooks.slack.com/services/T/B/x", channel: "#apex-alerts" }],
  warning: [{ kind: "webhook", url: "http://alert-sink.internal:8080/hook" }],
}));

describe.skipIf(!amtool && !inCi)("alertmanager config (amtool)", () => {
  it("is installed (CI installs Debian's prometheus-alertmanager package)", () => {
    expect(amtool).toBe(true);
  });

  it("passes amtool check-config with every receiver kind", () => {
    const r = run(["check-config", file]);
    expect(r.ok, r.out).toBe(true);
    expect(r.out).toContain("3 receivers");
  });

  it("routes every alert rule's severity to the receiver of that severity", () => {
    for (const rule of alertRules) {
      const r = run(["config", "routes", "test", `--config.file=${file}`, `--verify.receivers=${rule.severity}`, `severity=${rule.severity}`, `alertname=${rule.alert}`]);
      expect(r.ok, `${rule.alert}: ${r.out}`).toBe(true);
    }
    // The check can fail: a warning does not page the critical receivers, an unknown severity goes nowhere.
    expect(run(["config", "routes", "test", `--config.file=${file}`, "--verify.receivers=critical", "severity=warning"]).ok).toBe(false);
    expect(run(["config", "routes", "test", `--config.file=${file}`, "--verify.receivers=blackhole", "severity=info"]).ok).toBe(true);
  });

  it("rejects a broken config (so the check is real)", () => {
    const bad = join(work, "bad.yml");
    writeFileSync(bad, alertmanagerConfigYaml({ critical: [], warning: [] }).replace("receiver: critical", "receiver: nobody"));
    expect(run(["check-config", bad]).ok).toBe(false);
  });
});
