/**
 * The operator settings reach the running parts: openRuntime built from env vars (as the stack sets
 * them) applies the LLM breaker and rate limits, registers http_fetch only with an allowlist, and
 * hands the hardening mode to the local sandbox driver. On a Postgres database of its own, with a
 * fake OpenAI server on 127.0.0.1 reached by the real SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRuntime, type Runtime } from "../src/bin/runtime";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { LlmError } from "../src/llm/types";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { createTestDatabase, type TestDatabase } from "./helpers/db";

const call = (rt: Runtime, model: string) => rt.llm.complete({ model, prompt: "hello there", signal: AbortSignal.timeout(10_000) });
const kindOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "success";
  } catch (err) {
    return err instanceof LlmError ? err.kind : `unexpected: ${String(err)}`;
  }
};

describe("openRuntime applies the operator's settings", () => {
  let pg: TestDatabase;
  let fake: FakeLlmServer;
  let configured: Runtime;
  let plain: Runtime;

  beforeAll(async () => {
    pg = await createTestDatabase();
    fake = await startFakeLlmServer();
    const base = { [runtimeEnv.databaseUrl]: pg.url, [runtimeEnv.openaiApiKey]: "sk-test", [runtimeEnv.openaiBaseUrl]: fake.openaiBaseUrl, LOG_LEVEL: "silent" };
    configured = await openRuntime(
      loadConfig({
        ...base,
        [runtimeEnv.llmBreaker]: '{"failureThreshold":1,"cooldownMs":60000}',
        [runtimeEnv.llmRateLimits]: '{"local":{"requestsPerMinute":1}}',
        [runtimeEnv.toolHttpAllowlist]: "docs.python.org,*.wikipedia.org",
        [runtimeEnv.sandboxHardened]: "off",
      }),
    );
    plain = await openRuntime(loadConfig(base));
  }, 60_000);

  afterAll(async () => {
    await configured?.close();
    await plain?.close();
    await fake?.close();
    await pg?.drop();
  });

  it("APEX_LLM_BREAKER: one provider failure opens the breaker (the default needs five)", async () => {
    fake.failNow({ kind: "error", status: 500, message: "down" });
    try {
      expect(await kindOf(call(plain, "openai/gpt-4o-mini"))).toBe("provider_error");
      expect(await plain.llm.breakerState("openai")).toBe("closed");
      expect(await kindOf(call(configured, "openai/gpt-4o-mini"))).toBe("provider_error");
      expect(await configured.llm.breakerState("openai")).toBe("open");
      const requests = fake.requestCount("openai");
      expect(await kindOf(call(configured, "openai/gpt-4o-mini"))).toBe("breaker_open");
      expect(fake.requestCount("openai")).toBe(requests);
    } finally {
      fake.recover();
    }
  });

  it("APEX_LLM_RATE_LIMITS: a second local call within the minute is rate_limited; unlimited without it", async () => {
    expect(await kindOf(call(configured, "local/echo"))).toBe("success");
    expect(await kindOf(call(configured, "local/echo"))).toBe("rate_limited");
    for (let i = 0; i < 3; i++) expect(await kindOf(call(plain, "local/echo"))).toBe("success");
  });

  it("APEX_TOOL_HTTP_ALLOWLIST: http_fetch exists only with an allowlist, limited to it", () => {
    const tool = configured.tools.get("http_fetch");
    expect(tool?.description).toContain("docs.python.org, *.wikipedia.org");
    expect(plain.tools.get("http_fetch")).toBeUndefined();
    // The API validates submissions against the same registry.
    expect(configured.tools.get("python")?.requiresApproval).toBe(true);
  });

  it("APEX_SANDBOX_HARDENED: off reaches the local driver (no bubblewrap, no cgroups)", () => {
    const driver = configured.sandbox();
    expect(driver).toBeInstanceOf(LocalSandboxDriver);
    const caps = (driver as LocalSandboxDriver).capabilities;
    expect(caps.bwrap).toBeUndefined();
    expect(caps.cgroup).toBeUndefined();
  });
});
