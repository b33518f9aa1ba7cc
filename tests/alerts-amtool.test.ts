/**
 * The generated alertmanager.yml checked by Alertmanager's own tool (amtool, Debian's
 * prometheus-alertmanager): the config loads, the Watchdog reaches only the dead man's switch,
 * severity "none" reaches no page or channel, each severity its receivers; for the dev and prod
 * stack files as `npm run render` writes them, and for a config with every receiver kind.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { rulesFor } from "../alerts";
import { alertmanagerConfigYaml } from "../components/observability/alertmanager-config";
import { renderStackFiles } from "../components/observability/render";
import { stackObservability } from "../scripts/stack-config";
import { operatorStackFile } from "./harness";

const amtool = spawnSync("amtool", ["--version"]).status === 0;
const inCi = process.env.CI === "true";
if (!amtool && !inCi) console.warn("amtool not found: skipping the Alertmanager config tests. Install it with `apt-get install prometheus-alertmanager`.");

const work = mkdtempSync(join(tmpdir(), "apex-amtool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (args: string[]) => {
  const r = spawnSync("amtool", args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
};
/** Receivers amtool says an alert with `labels` reaches, in route order. */
const receiversOf = (file: string, labels: Record<string, string>): string[] => {
  const r = run(["config", "routes", "test", `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  expect(r.ok, r.out).toBe(true);
  return r.stdout.trim().split(",").map((s) => s.trim());
};

const everyKind = join(work, "alertmanager.yml");
writeFileSync(everyKind, alertmanagerConfigYaml({
  critical: [{ kind: "pagerduty", routingKey: "routing-key" }, { kind: "slack", url: "https://hooks.slack.com/services/T/B/x", channel: "#apex-alerts" }],
  warning: [{ kind: "webhook", url: "http://alert-sink.internal:8080/hook" }],
  deadMansSwitch: { url: "https://hc-ping.com/0000-dead-mans-switch" },
}));

/** alertmanager.yml of a stack file as `npm run render` writes it (secrets as placeholders). */
function stackFile(stack: string): string {
  const dir = join(work, "stacks");
  mkdirSync(dir, { recursive: true });
  const { settings, platform } = stackObservability({ stack, file: operatorStackFile(stack, dir) });
  const file = join(work, `${stack}-alertmanager.yml`);
  writeFileSync(file, renderStackFiles({ stack, settings, platform })["alertmanager.yml"]!);
  return file;
}

describe.skipIf(!amtool && !inCi)("alertmanager config (amtool)", () => {
  it("is installed (CI installs Debian's prometheus-alertmanager package)", () => {
    expect(amtool).toBe(true);
  });

  it("passes amtool check-config with every receiver kind and the dead man's switch", () => {
    const r = run(["check-config", everyKind]);
    expect(r.ok, r.out).toBe(true);
    expect(r.out).toContain("4 receivers");
  });

  it("routes the Watchdog only to deadmansswitch, every other rule by its severity, severity none to no page", () => {
    const rules = rulesFor("kubernetes");
    expect(rules.map((r) => r.alert)).toContain("Watchdog");
    for (const rule of rules) {
      const expected = rule.alert === "Watchdog" ? "deadmansswitch" : rule.severity === "none" ? "blackhole" : rule.severity;
      expect(receiversOf(everyKind, { alertname: rule.alert, severity: rule.severity }), rule.alert).toEqual([expected]);
    }
    // Whatever its labels say, the Watchdog never pages, and a "none" alert never reaches a channel.
    expect(receiversOf(everyKind, { alertname: "Watchdog", severity: "critical" })).toEqual(["deadmansswitch"]);
    expect(receiversOf(everyKind, { alertname: "SomethingInformational", severity: "none" })).toEqual(["blackhole"]);
    // The check can fail: a warning does not page the critical receivers, an unknown severity goes nowhere.
    expect(run(["config", "routes", "test", `--config.file=${everyKind}`, "--verify.receivers=critical", "severity=warning"]).ok).toBe(false);
    expect(run(["config", "routes", "test", `--config.file=${everyKind}`, "--verify.receivers=blackhole", "severity=info"]).ok).toBe(true);
  });

  it("prod (Pulumi.prod.yaml): the Watchdog pings the dead man's switch every minute, critical pages PagerDuty and Slack", () => {
    const file = stackFile("prod");
    expect(run(["check-config", file]).ok).toBe(true);
    expect(receiversOf(file, { alertname: "Watchdog", severity: "none" })).toEqual(["deadmansswitch"]);
    const config = parse(readFileSync(file, "utf8"));
    const dms = config.receivers.find((r: { name: string }) => r.name === "deadmansswitch");
    expect(dms.webhook_configs[0].url).toBe("https://secret.invalid/apex:alertmanagerDeadMansSwitchUrl");
    expect(config.route.routes[0].repeat_interval).toBe("1m");
    const critical = config.receivers.find((r: { name: string }) => r.name === "critical");
    expect(Object.keys(critical).sort()).toEqual(["name", "pagerduty_configs", "slack_configs"]);
  });

  it("dev (Pulumi.dev.yaml): critical and warning alerts reach the alert-receiver, the Watchdog a receiver without integrations", () => {
    const file = stackFile("dev");
    expect(run(["check-config", file]).ok).toBe(true);
    const config = parse(readFileSync(file, "utf8"));
    for (const severity of ["critical", "warning"]) {
      expect(receiversOf(file, { alertname: "NoActiveAgents", severity })).toEqual([severity]);
      const receiver = config.receivers.find((r: { name: string }) => r.name === severity);
      expect(receiver.webhook_configs).toEqual([{ url: "http://alert-receiver:9095/alerts", send_resolved: true }]);
    }
    expect(receiversOf(file, { alertname: "Watchdog", severity: "none" })).toEqual(["deadmansswitch"]);
    expect(config.receivers.find((r: { name: string }) => r.name === "deadmansswitch")).toEqual({ name: "deadmansswitch" });
  });

  it("rejects a broken config (so the check is real)", () => {
    const bad = join(work, "bad.yml");
    writeFileSync(bad, alertmanagerConfigYaml({ critical: [], warning: [] }).replace("receiver: critical", "receiver: nobody"));
    expect(run(["check-config", bad]).ok).toBe(false);
  });
});
