import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRunbookBaseUrl, ruleFileYaml, watchdogRule } from "../alerts";
import { startAlertReceiver, type AlertReceiver } from "../app/src/bin/alert-receiver";
import { services } from "../app/src/contract";
import { createLogger } from "../app/src/telemetry/logger";
import { alertmanagerConfigYaml } from "../components/observability/alertmanager-config";
import { alloyConfig } from "../components/observability/alloy";
import { lokiConfigYaml } from "../components/observability/loki";
import { prometheusReplicaEnv, prometheusSpec } from "../components/observability/prometheus";
import { prometheusConfigYaml } from "../components/observability/prometheus-config";
import { replicaLabel } from "../components/observability/render";
import { promtailDockerConfigYaml } from "../components/observability/promtail-config";
import { configChecksumEnv } from "../components/observability/sizing";
import { freePort, waitFor as waitUntil } from "../app/test/helpers/wait";

describe("generated configs of the observability services", () => {
  it("Loki listens on the contract port and keeps logs for the configured retention", () => {
    const loki = parse(lokiConfigYaml({ retention: "72h" }));
    expect(loki.server.http_listen_port).toBe(services.loki.port);
    expect(loki.limits_config.retention_period).toBe("72h");
    expect(loki.compactor.retention_enabled).toBe(true);
    expect(loki.auth_enabled).toBe(false);
  });

  it("promtail parses the runtime's JSON lines and labels them with the service name", () => {
    const cfg = parse(promtailDockerConfigYaml({ lokiPushUrl: "http://loki:3100/loki/api/v1/push", stackInstance: "apex-dev" }));
    const job = cfg.scrape_configs[0];
    expect(job.pipeline_stages[0].json.expressions).toMatchObject({ level: "level", trace_id: "trace_id" });
    // trace_id is extracted but never a label (unbounded cardinality).
    expect(job.pipeline_stages[1].labels).toEqual({ level: "" });
  });

  it("Alloy watches one namespace and pushes to the given Loki URL", () => {
    const cfg = alloyConfig({ namespace: "apex", lokiPushUrl: "http://loki:3100/loki/api/v1/push" });
    expect(cfg).toContain('names = ["apex"]');
    expect(cfg).toContain('url = "http://loki:3100/loki/api/v1/push"');
    expect(cfg).toMatch(/loki\.source\.kubernetes "pods" \{\s+targets\s+= discovery\.relabel\.pods\.output/);
    // Balanced braces: a quick structural check of the generated Alloy syntax.
    expect(cfg.split("{").length).toBe(cfg.split("}").length);
  });

  it("a rule or config change changes the Prometheus pod template (so it rolls)", () => {
    const base = { image: "prom/prometheus:v2.48.1", config: "global: {}\n", rules: { "a.yml": "groups: []\n" }, retention: "15d", storageSize: "1Gi", publishPort: false };
    const checksum = (args: typeof base) => prometheusSpec(args).env?.[configChecksumEnv];
    expect(checksum(base)).toMatch(/^[0-9a-f]{16}$/);
    expect(checksum({ ...base, rules: { "a.yml": "groups: [x]\n" } })).not.toBe(checksum(base));
    expect(checksum({ ...base, config: "global: {scrape_interval: 5s}\n" })).not.toBe(checksum(base));
    expect(checksum({ ...base, retention: "30d" })).toBe(checksum(base));
  });
});

/**
 * The HA wiring with the real binaries (Debian's prometheus 2.42 and prometheus-alertmanager 0.25):
 * two Prometheus replicas with the generated external labels and alert relabelling, three
 * Alertmanagers clustered by --cluster.peer, the dev alert-receiver as the webhook. Pod names and
 * IPs are stood in for by env values and 127.0.0.1 ports.
 */
const prometheusBin = spawnSync("prometheus", ["--version"]).status === 0;
const alertmanagerBin = ["prometheus-alertmanager", "alertmanager"].find((b) => spawnSync(b, ["--version"]).status === 0);
const haBinaries = prometheusBin && alertmanagerBin !== undefined;
if (!haBinaries && process.env.CI !== "true") console.warn("prometheus / prometheus-alertmanager not found: skipping the HA test (apt-get install prometheus prometheus-alertmanager)");

describe.skipIf(!haBinaries && process.env.CI !== "true")("Prometheus pair and Alertmanager cluster (real binaries)", () => {
  const processes: ChildProcess[] = [];
  const alerts: Record<string, unknown>[] = [];
  let work: string;
  let receiver: AlertReceiver;
  let ports: { prom: number[]; amWeb: number[]; amCluster: number[] };

  // Probes here fetch from processes that are still starting: a refused connection is "not yet".
  const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) => waitUntil(what, () => probe().catch(() => undefined), { timeoutMs: 30_000 });
  const getJson = async (url: string): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  };

  beforeAll(async () => {
    expect(haBinaries, "prometheus and prometheus-alertmanager must be installed in CI").toBe(true);
    work = mkdtempSync(join(tmpdir(), "apex-ha-"));
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) alerts.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    receiver = await startAlertReceiver({ port: 0, host: "127.0.0.1", logger: createLogger({ service: "alert-receiver", destination: sink, level: "info" }) });
    ports = { prom: [await freePort(), await freePort()], amWeb: [await freePort(), await freePort(), await freePort()], amCluster: [await freePort(), await freePort(), await freePort()] };

    writeFileSync(join(work, "alertmanager.yml"), alertmanagerConfigYaml({ critical: [], warning: [], deadMansSwitch: { url: `http://127.0.0.1:${receiver.port}/alerts` } }));
    ports.amWeb.forEach((web, i) => {
      const peers = ports.amCluster.filter((_, j) => j !== i).map((p) => `--cluster.peer=127.0.0.1:${p}`);
      processes.push(spawn(alertmanagerBin!, [
        `--config.file=${join(work, "alertmanager.yml")}`, `--storage.path=${join(work, `am-${i}`)}`, `--web.listen-address=127.0.0.1:${web}`,
        `--cluster.listen-address=127.0.0.1:${ports.amCluster[i]}`, ...peers, "--cluster.settle-timeout=2s",
      ], { stdio: "ignore" }));
    });

    writeFileSync(join(work, "rules.yml"), ruleFileYaml([watchdogRule], { runbookBaseUrl: repoRunbookBaseUrl() }));
    const config = prometheusConfigYaml({
      scrapeInterval: "1s",
      evaluationInterval: "1s",
      scrapeTimeout: "1s",
      jobs: [{ name: "prometheus", discovery: { kind: "static", targets: ["localhost:0"] } }],
      ruleFiles: [join(work, "rules.yml")],
      alertmanagers: ports.amWeb.map((p) => `127.0.0.1:${p}`),
      externalLabels: { stack: "ha-test", [replicaLabel]: `\${${prometheusReplicaEnv}}` },
      alertLabelsDropped: [replicaLabel],
    });
    ports.prom.forEach((port, i) => {
      // Each replica scrapes itself under the job name "prometheus".
      writeFileSync(join(work, `prometheus-${i}.yml`), config.replace("localhost:0", `127.0.0.1:${port}`));
      processes.push(spawn("prometheus", [
        `--config.file=${join(work, `prometheus-${i}.yml`)}`, `--storage.tsdb.path=${join(work, `prom-${i}`)}`, `--web.listen-address=127.0.0.1:${port}`,
        "--enable-feature=expand-external-labels",
        // Firing alerts are re-sent every minute by default; the first send precedes Alertmanager discovery.
        "--rules.alert.resend-delay=1s",
      ], { stdio: "ignore", env: { ...process.env, [prometheusReplicaEnv]: `prometheus-${i}` } }));
    });
  }, 60_000);

  afterAll(async () => {
    // Wait for each to exit (SIGKILL after 10 s), so no process outlives the test.
    await Promise.all(processes.map((p) => new Promise<void>((done) => {
      if (p.exitCode !== null || p.signalCode !== null) return done();
      const force = setTimeout(() => p.kill("SIGKILL"), 10_000);
      p.once("exit", () => {
        clearTimeout(force);
        done();
      });
      p.kill("SIGTERM");
    })));
    await receiver?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("labels each replica's series with its own replica, and the replicas' Watchdogs reach the cluster as one alert", async () => {
    for (const [i, port] of ports.prom.entries()) {
      const federated = await waitFor(`prometheus-${i} federating its own up`, async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/federate?match[]=up`)).text();
        return text.includes("up{") ? text : undefined;
      });
      expect(federated).toContain(`replica="prometheus-${i}"`);
    }
    // Every Alertmanager holds the Watchdog once, without the replica label, from both replicas.
    for (const web of ports.amWeb) {
      const watchdogs = await waitFor(`Watchdog on :${web}`, async () => {
        const list = (await getJson(`http://127.0.0.1:${web}/api/v2/alerts`)) as { labels: Record<string, string> }[];
        const w = list.filter((a) => a.labels.alertname === "Watchdog");
        return w.length > 0 ? w : undefined;
      });
      expect(watchdogs.map((a) => a.labels)).toEqual([{ alertname: "Watchdog", severity: "none", stack: "ha-test" }]);
    }
    const status = await waitFor("a settled cluster of three", async () => {
      const s = await getJson(`http://127.0.0.1:${ports.amWeb[0]}/api/v2/status`);
      return s.cluster?.status === "ready" && s.cluster.peers.length === 3 ? s : undefined;
    });
    expect(status.cluster.peers).toHaveLength(3);
    // The dead man's switch gets pinged.
    const ping = await waitFor("the dead man's switch ping", async () => alerts.find((l) => l.alertname === "Watchdog"));
    expect(ping).toMatchObject({ receiver: "deadmansswitch", status: "firing", labels: { alertname: "Watchdog", severity: "none", stack: "ha-test" } });
  }, 60_000);
});
