import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { services } from "../app/src/contract";
import { alloyConfig } from "../components/observability/alloy";
import { lokiConfigYaml } from "../components/observability/loki";
import { prometheusSpec } from "../components/observability/prometheus";
import { promtailDockerConfigYaml } from "../components/observability/promtail-config";
import { configChecksumEnv } from "../components/observability/sizing";

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
