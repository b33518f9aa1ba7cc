import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig, mergeOver, type ConfigSource } from "../config";
import { operatorStackConfig, runStack } from "./harness";

/** A literal config source: `apex` keys without the prefix; objects are given as JSON like the CLI does. */
function source(stack: string, values: Record<string, unknown>, secret: Record<string, string> = {}): ConfigSource {
  const entries = new Map<string, { value: string; secret: boolean }>();
  for (const [k, v] of Object.entries(values)) entries.set(k, { value: typeof v === "string" ? v : JSON.stringify(v), secret: false });
  for (const [k, v] of Object.entries(secret)) entries.set(k, { value: v, secret: true });
  return { stack, entries: () => entries };
}

/** The stack file as the CLI hands it over (secure values replaced by known plaintexts). */
function stackFile(stack: string, overrides: Record<string, unknown> = {}): ConfigSource {
  const plain: Record<string, unknown> = {};
  const secret: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...operatorStackConfig(stack), ...overrides })) {
    if (v !== null && typeof v === "object" && "secure" in v) secret[k] = k.endsWith("Url") ? `https://plaintext-of.invalid/${k}-0123456789` : `plaintext-of-${k}-0123456789`;
    else if (v !== undefined) plain[k] = v;
  }
  return source(stack, plain, secret);
}

function problemsOf(src: ConfigSource): string[] {
  try {
    loadConfig(src);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.key}: ${p.message}`);
    throw e;
  }
  throw new Error("config was accepted");
}

describe("stack config", () => {
  it("accepts both stack files and applies the environment's defaults", () => {
    const dev = loadConfig(stackFile("dev"));
    expect(dev).toMatchObject({ environment: "dev", target: "docker", namespace: "apex" });
    expect(dev.workers).toMatchObject({ replicas: 3, autoscaling: null, sandboxDriver: "docker" });
    expect(dev.api.resources).toEqual({ requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } });
    expect(dev.images).toMatchObject({ postgres: "postgres:16-alpine", redis: "redis:7-alpine" });
    expect(dev.openaiApiKey).toBeUndefined();

    const prod = loadConfig(stackFile("prod"));
    expect(prod).toMatchObject({ environment: "prod", target: "kubernetes" });
    expect(prod.api.autoscaling).toEqual({ minReplicas: 2, maxReplicas: 10, targetCpuUtilization: 70 });
    expect(prod.network.llmEgressExcept).toContain("169.254.0.0/16");
    expect(prod.ingress).toMatchObject({ host: "api.apex.example.com", grpcHost: "grpc.apex.example.com", tls: { secretName: "apex-api-tls" } });
  });

  it("names the key, the expected form and the value given", () => {
    expect(problemsOf(source("dev", { workers: { replicas: "three" } }))).toEqual([
      'apex:workers.replicas: expected a positive integer, got "three"',
    ]);
  });

  it("reports every problem at once, one line each", () => {
    const problems = problemsOf(source("dev", {
      target: "k8s",
      workers: { replicas: 0, replicaz: 2 },
      api: { resources: { limits: { cpu: "two", memory: "2GB" } } },
      network: { llmEgressCidrs: ["0.0.0.0/33"] },
      images: { postgres: "postgres" },
      docker: { publishAddress: "localhost" },
      colour: "blue",
    }));
    expect(problems).toEqual(expect.arrayContaining([
      'apex:colour: unknown key (see docs/configuration.md), got "blue"',
      'apex:target: expected one of "docker", "kubernetes", got "k8s"',
      "apex:workers.replicas: expected a positive integer, got 0",
      "apex:workers.replicaz: unknown key (see docs/configuration.md), got 2",
      'apex:api.resources.limits.cpu: expected a CPU quantity such as "500m" or "2", got "two"',
      'apex:api.resources.limits.memory: expected a memory quantity such as "512Mi" or "2Gi", got "2GB"',
      'apex:network.llmEgressCidrs.0: expected an IPv4 CIDR such as "10.0.0.0/8", got "0.0.0.0/33"',
      'apex:images.postgres: expected an image reference with a tag or digest such as "postgres:16-alpine", got "postgres"',
      'apex:docker.publishAddress: expected an IPv4 address such as "127.0.0.1", got "localhost"',
    ]));
    expect(problems).toHaveLength(9);
  });

  it("thrown as one error whose message lists the problems", () => {
    expect(() => loadConfig(source("dev", { workers: { replicas: "three" } }))).toThrow(
      /Invalid stack configuration \(1 problem\):\n {2}apex:workers\.replicas: expected a positive integer, got "three"/,
    );
  });

  it("rejects a section that is not an object, and an unknown environment", () => {
    expect(problemsOf(source("dev", { workers: "3" }))).toEqual(["apex:workers: expected an object, got 3"]);
    expect(problemsOf(source("staging", {}))).toEqual([
      'apex:environment: expected one of "dev", "prod" (taken from the stack name; set apex:environment), got "staging"',
    ]);
    expect(loadConfig(source("staging", { environment: "prod", ...prodMinimum() }, prodSecrets())).environment).toBe("prod");
  });

  it("requires the LLM keys in prod, as encrypted values, and never echoes a secret", () => {
    const missing = problemsOf(source("prod", prodMinimum()));
    expect(missing).toEqual([
      "apex:openaiApiKey: required in prod: set it with `pulumi config set --secret apex:openaiApiKey <value>`, got nothing",
      "apex:anthropicApiKey: required in prod: set it with `pulumi config set --secret apex:anthropicApiKey <value>`, got nothing",
    ]);
    const plaintext = problemsOf(source("prod", { ...prodMinimum(), openaiApiKey: "sk-live-LEAKED-123", anthropicApiKey: "sk-ant-LEAKED-456" }));
    expect(plaintext).toHaveLength(2);
    expect(plaintext[0]).toMatch(/^apex:openaiApiKey: expected an encrypted \(secure:\) value: .*got a plaintext value$/);
    expect(plaintext.join("\n")).not.toMatch(/LEAKED/);
    expect(problemsOf(source("dev", {}, { postgresPassword: "short" }))).toEqual([
      "apex:postgresPassword: expected at least 12 characters, got 5",
    ]);
    // A receiver URL that is not one is refused with its key, at config time, without echoing it.
    const badUrl = problemsOf(source("dev", {}, { alertmanagerSlackUrl: "T000/B000/LEAKED-slack-token" }));
    expect(badUrl).toEqual([expect.stringMatching(/^apex:alertmanagerSlackUrl: expected an http\(s\) URL .*got a value that is not one$/)]);
    expect(badUrl.join("\n")).not.toMatch(/LEAKED/);
    expect(problemsOf(source("dev", {}, { alertmanagerWebhookUrl: "ftp://alerts.example.com/hook" }))).toEqual([expect.stringMatching(/^apex:alertmanagerWebhookUrl: /)]);
    expect(() => loadConfig(source("dev", {}, { alertmanagerSlackUrl: "https://hooks.slack.com/services/T0/B0/x" }))).not.toThrow();
  });

  it("refuses an encrypted value for a key that is not a secret, and never echoes an unknown encrypted key", () => {
    const problems = problemsOf(source("dev", {}, { workers: '{"replicas":3}', colour: "LEAKED-blue" }));
    expect(problems).toEqual([
      "apex:workers: expected a plain value (not a secret): set it with `pulumi config set apex:workers <value>`, got an encrypted value",
      "apex:colour: unknown key (see docs/configuration.md), got an encrypted value",
    ]);
  });

  it("takes a secure: value it cannot decrypt (npm run check) as a set secret", async () => {
    const entries = new Map([["openaiApiKey", { ciphertext: "v1:abc" }], ["anthropicApiKey", { ciphertext: "v1:def" }]]);
    const prodFile = stackFile("prod");
    const config = loadConfig({ stack: "prod", entries: () => new Map([...prodFile.entries(), ...entries]) });
    const key = config.openaiApiKey as unknown as { isSecret: Promise<boolean>; isKnown: Promise<boolean> };
    expect([await key.isSecret, await key.isKnown]).toEqual([true, false]);
  });

  it("returns secrets as Pulumi secret Outputs", async () => {
    const config = loadConfig(source("dev", {}, { openaiApiKey: "sk-test-0000" }));
    expect(config.openaiApiKey).toBeDefined();
    const output = config.openaiApiKey as unknown as { isSecret: Promise<boolean> };
    expect(await output.isSecret).toBe(true);
  });

  it("checks rules that span keys", () => {
    expect(problemsOf(source("dev", { api: { autoscaling: { minReplicas: 5, maxReplicas: 3, targetCpuUtilization: 70 } } }))).toEqual([
      "apex:api.autoscaling.maxReplicas: expected at least minReplicas (5), got 3",
    ]);
    expect(problemsOf(source("dev", { workers: { sandboxDriver: "kubernetes" } }))).toEqual([
      'apex:workers.sandboxDriver: expected "local" or "docker" on target "docker", got "kubernetes"',
    ]);
    const prod = prodMinimum();
    const noHosts = problemsOf(source("prod", { ...prod, ingress: {} }, prodSecrets()));
    expect(noHosts).toEqual([
      'apex:ingress.host: required when apex:target is "kubernetes": expected a DNS host name, got nothing',
      'apex:ingress.grpcHost: required when apex:target is "kubernetes": expected a DNS host name, got nothing',
      'apex:ingress.consoleHost: required when apex:target is "kubernetes" and apex:dashboard.enabled is true: expected a DNS host name for the console, got nothing',
    ]);
    const externalIncomplete = problemsOf(source("prod", { ...prod, registry: { kind: "external" } }, prodSecrets()));
    expect(externalIncomplete).toEqual([
      'apex:registry.server: required when apex:registry.kind is "external": expected a non-empty string, got nothing',
      'apex:registry.username: required when apex:registry.kind is "external": expected a non-empty string, got nothing',
    ]);
    const external = { kind: "external", server: "registry.example.com", username: "ci" };
    const images = prod.images as { runtime: Record<string, unknown> };
    const wrongRegistry = problemsOf(source("prod", { ...prod, registry: external, images: { ...images, runtime: { ...images.runtime, repository: "docker.io/acme/apex" } } }, prodSecrets()));
    expect(wrongRegistry).toEqual(['apex:images.runtime.repository: expected a repository on the registry "registry.example.com/...", got "docker.io/acme/apex"']);
    expect(problemsOf(source("dev", { observability: { uiSourceRanges: ["203.0.113.0/24"] } }))).toEqual([
      'apex:observability.uiSourceRanges: only used when apex:target is "kubernetes" (docker publishes the UIs on localhost), got ["203.0.113.0/24"]',
    ]);
    expect(problemsOf(source("prod", { ...prod, observability: { uiSourceRanges: ["office"] } }, prodSecrets()))[0]).toMatch(/^apex:observability\.uiSourceRanges\.?\[?0\]?: /);
    const noApiServer = problemsOf(source("prod", { ...prod, network: { apiServerCidrs: [] } }, prodSecrets()));
    expect(noApiServer[0]).toMatch(/^apex:network\.apiServerCidrs: required when apex:workers\.sandboxDriver is "kubernetes"/);
  });

  it("merges stack values over defaults key by key; lists and null replace", () => {
    expect(mergeOver({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: 3 }, l: [9] })).toEqual({ a: { b: 1, c: 3 }, l: [9] });
    expect(mergeOver({ a: { b: 1 } }, { a: null })).toEqual({ a: null });
    expect(loadConfig(source("prod", { ...prodMinimum(), workers: { autoscaling: null, replicas: 4 } }, prodSecrets())).workers)
      .toMatchObject({ autoscaling: null, replicas: 4, concurrency: 8 });
  });

  it("in a Pulumi run, reads through pulumi.Config(\"apex\"): secrets are the engine's requireSecret Outputs, plain keys decoded against the schema", async () => {
    const requireSecret = vi.spyOn(pulumi.Config.prototype, "requireSecret");
    const run = await runStack({
      stack: "dev",
      stackFile: false,
      config: { workers: { replicas: 5 } },
      secrets: { openaiApiKey: "sk-from-the-engine-0123456789" },
      program: () => {
        const config = loadConfig();
        return { replicas: config.workers.replicas, concurrency: config.workers.concurrency, openaiApiKey: config.openaiApiKey };
      },
    });
    expect(run.outputs).toMatchObject({ replicas: 5, concurrency: 4, openaiApiKey: "sk-from-the-engine-0123456789" });
    expect(run.secretOutputs).toEqual(["openaiApiKey"]);
    expect(requireSecret.mock.calls).toEqual([["openaiApiKey"]]);
    requireSecret.mockRestore();
  });

  it("stops the program itself (pulumi preview) with the key named", async () => {
    await expect(runStack({ stack: "dev", config: { workers: { replicas: "three" } } })).rejects.toThrow(
      'apex:workers.replicas: expected a positive integer, got "three"',
    );
  });
});

/** The smallest prod config the checks accept, given prodSecrets(). */
function prodMinimum(): Record<string, unknown> {
  const file = operatorStackConfig("prod");
  return Object.fromEntries(Object.entries(file).filter(([, v]) => !(v !== null && typeof v === "object" && "secure" in v)));
}

function prodSecrets(): Record<string, string> {
  return {
    openaiApiKey: "sk-openai-000000",
    anthropicApiKey: "sk-ant-000000",
    registryPassword: "registry-token",
    // Pulumi.prod.yaml routes alerts to PagerDuty and Slack.
    alertmanagerPagerdutyRoutingKey: "pd-routing-000000",
    alertmanagerSlackUrl: "https://hooks.slack.com/services/T0/B0/x",
    // ...and pings a dead man's switch.
    alertmanagerDeadMansSwitchUrl: "https://hc-ping.com/00000000-0000-0000-0000-000000000000",
    // ...and signs Grafana in through OIDC.
    grafanaOidcClientSecret: "oidc-client-000000",
  };
}
