/**
 * The dev alert receiver against a real Alertmanager (Debian's prometheus-alertmanager): an alert
 * posted to Alertmanager's API arrives as Alertmanager's own webhook payload and becomes one JSON
 * log line; a malformed body is refused naming the field.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAlertReceiver, type AlertReceiver } from "../src/bin/alert-receiver";
import { createLogger } from "../src/telemetry/logger";
import { freePort, waitFor } from "./helpers/wait";

const binary = ["prometheus-alertmanager", "alertmanager"].find((b) => spawnSync(b, ["--version"]).status === 0);
const inCi = process.env.CI === "true";

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});

let receiver: AlertReceiver;
const url = (path: string) => `http://127.0.0.1:${receiver.port}${path}`;

beforeAll(async () => {
  receiver = await startAlertReceiver({ port: 0, host: "127.0.0.1", logger: createLogger({ service: "alert-receiver", destination: sink, level: "info" }) });
});
afterAll(async () => {
  await receiver.close();
});

describe("alert-receiver", () => {
  it("answers /healthz and refuses anything but a webhook payload, naming the field", async () => {
    expect((await fetch(url("/healthz"))).status).toBe(200);
    expect((await fetch(url("/alerts"))).status).toBe(405);
    const post = (body: string) => fetch(url("/alerts"), { method: "POST", body, headers: { "content-type": "application/json" } });
    expect((await post("not json")).status).toBe(400);
    const wrongVersion = await post(JSON.stringify({ version: "3", status: "firing", receiver: "x", alerts: [] }));
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.json()).toEqual({ error: 'version: expected "4", got "3"' });
    const badLabels = await post(JSON.stringify({ version: "4", status: "firing", receiver: "x", alerts: [{ status: "firing", labels: { a: 1 }, annotations: {} }] }));
    expect(await badLabels.json()).toEqual({ error: "alerts[0].labels: expected a map of strings" });
  });

  describe.skipIf(!binary && !inCi)("from a real Alertmanager", () => {
    let alertmanager: ChildProcess | undefined;
    let work: string;
    let amPort: number;

    beforeAll(async () => {
      expect(binary, "prometheus-alertmanager missing: apt-get install prometheus-alertmanager").toBeDefined();
      work = mkdtempSync(join(tmpdir(), "apex-alert-receiver-"));
      amPort = await freePort();
      writeFileSync(join(work, "alertmanager.yml"), [
        "route:",
        "  receiver: dev",
        "  group_by: [alertname]",
        "  group_wait: 0s",
        "  group_interval: 1s",
        "receivers:",
        "  - name: dev",
        "    webhook_configs:",
        `      - url: ${url("/alerts")}`,
        "        send_resolved: true",
        "",
      ].join("\n"));
      alertmanager = spawn(binary!, [
        `--config.file=${join(work, "alertmanager.yml")}`,
        `--storage.path=${join(work, "data")}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        "--cluster.listen-address=",
      ], { stdio: "ignore" });
      await waitFor("Alertmanager ready", async () => {
        const ready = await fetch(`http://127.0.0.1:${amPort}/-/ready`).then((r) => r.ok, () => false);
        return ready ? true : undefined;
      });
    });
    afterAll(async () => {
      const am = alertmanager;
      if (am && am.exitCode === null && am.signalCode === null) {
        const exited = new Promise((done) => am.once("exit", done));
        am.kill("SIGTERM");
        const force = setTimeout(() => am.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(force);
      }
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("logs each alert Alertmanager notifies as one JSON line with its name, severity and runbook", async () => {
      const alert = {
        labels: { alertname: "TaskQueueStalled", severity: "critical", stack: "dev" },
        annotations: { summary: "Tasks wait and none finishes", description: "3 tasks queued", runbook_url: "file:///repo/docs/runbooks/TaskQueueStalled.md" },
        generatorURL: "http://prometheus:9090/graph",
      };
      const posted = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([alert]) });
      expect(posted.status).toBe(200);
      const line = await waitFor("the alert's log line", () => lines.find((l) => l.message === "Alert firing" && l.alertname === "TaskQueueStalled"));
      expect(line).toMatchObject({
        level: "WARN",
        service: "alert-receiver",
        alertname: "TaskQueueStalled",
        severity: "critical",
        status: "firing",
        receiver: "dev",
        summary: "Tasks wait and none finishes",
        runbook_url: "file:///repo/docs/runbooks/TaskQueueStalled.md",
        labels: { alertname: "TaskQueueStalled", severity: "critical", stack: "dev" },
      });
      expect(line.timestamp).toEqual(expect.any(String));
      expect(line.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    });
  });
});
