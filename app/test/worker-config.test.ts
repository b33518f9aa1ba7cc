/** Runtime config from env: defaults from the contract, errors naming the variable, secrets masked. */
import { parseURL } from "ioredis/built/utils";
import { describe, expect, it } from "vitest";
import { describeConfig, loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { services } from "../src/contract/services";

describe("loadConfig", () => {
  it("defaults to embedded mode with the contract's ports", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: undefined,
      redisUrl: undefined,
      httpPort: services.api.httpPort,
      grpcPort: services.api.grpcPort,
      metricsPort: services.worker.metricsPort,
      leaseMs: 30_000,
      workerConcurrency: 4,
      sandboxDriver: "local",
    });
  });

  it("parses every variable and splices DATABASE_PASSWORD into DATABASE_URL", () => {
    const c = loadConfig({
      [runtimeEnv.databaseUrl]: "postgres://apex@postgres:5432/apex",
      [runtimeEnv.databasePassword]: "s3cr3t/+@:#",
      [runtimeEnv.redisUrl]: "redis://redis:6379",
      [runtimeEnv.workerConcurrency]: "8",
      [runtimeEnv.leaseMs]: "10000",
      [runtimeEnv.sandboxDriver]: "kubernetes",
      [runtimeEnv.openaiApiKey]: "sk-test",
      [runtimeEnv.openaiBaseUrl]: "http://127.0.0.1:9999/v1",
    });
    // pg decodes the password with decodeURIComponent; reserved characters must survive the trip.
    expect(decodeURIComponent(new URL(c.databaseUrl!).password)).toBe("s3cr3t/+@:#");
    expect(c).toMatchObject({ redisUrl: "redis://redis:6379", workerConcurrency: 8, leaseMs: 10_000, sandboxDriver: "kubernetes" });
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain("s3cr3t");
    expect(shown).not.toContain("sk-test");
    expect(shown).toContain("[REDACTED]");
  });

  it("splices REDIS_PASSWORD into REDIS_URL (ioredis decodes it back) and never shows it", () => {
    const c = loadConfig({ [runtimeEnv.redisUrl]: "redis://redis:6379", [runtimeEnv.redisPassword]: "r3d1s/+@:#" });
    expect(parseURL(c.redisUrl!)).toMatchObject({ host: "redis", port: "6379", password: "r3d1s/+@:#" });
    expect(JSON.stringify(describeConfig(c))).not.toContain("r3d1s");
    const tls = loadConfig({ [runtimeEnv.redisUrl]: "rediss://:inurl@cache:6379", [runtimeEnv.redisPassword]: "other" });
    expect(parseURL(tls.redisUrl!)).toMatchObject({ password: "inurl" });
  });

  it("keeps a password already in the URL and treats empty values as unset", () => {
    const c = loadConfig({ [runtimeEnv.databaseUrl]: "postgres://u:inurl@h/db", [runtimeEnv.databasePassword]: "other", [runtimeEnv.redisUrl]: "" });
    expect(new URL(c.databaseUrl!).password).toBe("inurl");
    expect(c.redisUrl).toBeUndefined();
  });

  it.each([
    [runtimeEnv.httpPort, "eighty", /APEX_HTTP_PORT/],
    [runtimeEnv.leaseMs, "5", /APEX_LEASE_MS: .*1000/],
    [runtimeEnv.workerConcurrency, "0", /APEX_WORKER_CONCURRENCY/],
    [runtimeEnv.sandboxDriver, "chroot", /APEX_SANDBOX_DRIVER/],
    [runtimeEnv.databaseUrl, "mysql://x", /DATABASE_URL: expected a postgres:\/\/ URL/],
    [runtimeEnv.redisUrl, "http://x", /REDIS_URL: expected a redis:\/\/ URL/],
    [runtimeEnv.openaiBaseUrl, "not a url", /OPENAI_BASE_URL/],
  ])("rejects a bad %s naming it", (key, value, message) => {
    expect(() => loadConfig({ [key]: value })).toThrow(message);
  });
});

describe("loadConfig: LLM limits, breaker, sandbox hardening, http_fetch allowlist", () => {
  it("defaults: no limits of ours, the coordination breaker defaults, hardening auto, no http_fetch", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ llmRateLimits: {}, llmBreaker: {}, sandboxHardened: "auto" });
    expect(c.httpFetchAllowHosts).toBeUndefined();
  });

  it("parses the JSON settings and the comma-separated allowlist", () => {
    const c = loadConfig({
      [runtimeEnv.llmRateLimits]: '{"openai":{"requestsPerMinute":500,"tokensPerMinute":200000},"anthropic":{"requestsPerMinute":50}}',
      [runtimeEnv.llmBreaker]: '{"failureThreshold":3,"cooldownMs":0}',
      [runtimeEnv.sandboxHardened]: "required",
      [runtimeEnv.toolHttpAllowlist]: " docs.python.org, *.wikipedia.org ,",
    });
    expect(c.llmRateLimits).toEqual({ openai: { requestsPerMinute: 500, tokensPerMinute: 200_000 }, anthropic: { requestsPerMinute: 50 } });
    expect(c.llmBreaker).toEqual({ failureThreshold: 3, cooldownMs: 0 });
    expect(c.sandboxHardened).toBe("required");
    expect(c.httpFetchAllowHosts).toEqual(["docs.python.org", "*.wikipedia.org"]);
  });

  it.each([
    [runtimeEnv.llmRateLimits, "openai=500", /APEX_LLM_RATE_LIMITS: expected JSON such as/],
    [runtimeEnv.llmRateLimits, '{"openai":{"requestsPerMinute":0}}', /APEX_LLM_RATE_LIMITS\.openai\.requestsPerMinute: expected a positive integer/],
    [runtimeEnv.llmRateLimits, '{"openai":{"requestsPerMinute":1.5}}', /APEX_LLM_RATE_LIMITS\.openai\.requestsPerMinute: expected a positive integer/],
    [runtimeEnv.llmRateLimits, '{"mistral":{"requestsPerMinute":10}}', /APEX_LLM_RATE_LIMITS: unknown provider "mistral" \(known: openai, anthropic, local\)/],
    [runtimeEnv.llmRateLimits, '{"openai":{"rpm":10}}', /APEX_LLM_RATE_LIMITS\.openai: .*"rpm"/],
    [runtimeEnv.llmRateLimits, "[1]", /APEX_LLM_RATE_LIMITS: /],
    [runtimeEnv.llmBreaker, '{"failureThreshold":0}', /APEX_LLM_BREAKER\.failureThreshold: expected an integer >= 1/],
    [runtimeEnv.llmBreaker, '{"cooldownMs":"30s"}', /APEX_LLM_BREAKER\.cooldownMs: expected an integer >= 0/],
    [runtimeEnv.llmBreaker, '{"threshold":3}', /APEX_LLM_BREAKER: .*"threshold"/],
    [runtimeEnv.llmBreaker, '{"probeTimeoutMs":0}', /APEX_LLM_BREAKER\.probeTimeoutMs: expected an integer >= 1/],
    [runtimeEnv.llmBreaker, '{"probeTimeoutMs":5000,"probeLeaseMs":1000}', /APEX_LLM_BREAKER\.probeTimeoutMs: must not exceed probeLeaseMs \(1000\)/],
    [runtimeEnv.sandboxHardened, "yes", /APEX_SANDBOX_HARDENED/],
    [runtimeEnv.toolHttpAllowlist, "https://docs.python.org", /APEX_TOOL_HTTP_ALLOWLIST: entry "https:\/\/docs.python.org" must be a host name/],
    [runtimeEnv.toolHttpAllowlist, ",,", /APEX_TOOL_HTTP_ALLOWLIST: expected comma-separated host names/],
  ])("rejects a bad %s (%s) naming the variable and field", (key, value, message) => {
    expect(() => loadConfig({ [key]: value })).toThrow(message);
  });
});
