/** The sandbox node pool reaches the worker as JSON env (from the stack's sandboxEnv): parsed, checked, named in errors. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";

const poolEnv = {
  [runtimeEnv.sandboxDriver]: "kubernetes",
  [runtimeEnv.sandboxRuntimeClass]: "gvisor",
  [runtimeEnv.sandboxNodeSelector]: '{"apex.dev/pool":"sandbox"}',
  [runtimeEnv.sandboxTolerations]: '[{"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"NoSchedule"}]',
};

const errorOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("config was accepted");
};

describe("APEX_SANDBOX_NODE_SELECTOR and APEX_SANDBOX_TOLERATIONS", () => {
  it("parse into the kubernetes driver's placement", () => {
    const c = loadConfig(poolEnv);
    expect(c.sandboxRuntimeClass).toBe("gvisor");
    expect(c.sandboxNodeSelector).toEqual({ "apex.dev/pool": "sandbox" });
    expect(c.sandboxTolerations).toEqual([{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }]);
  });

  it("unset or empty: no placement", () => {
    const c = loadConfig({ [runtimeEnv.sandboxNodeSelector]: "", [runtimeEnv.sandboxDriver]: "kubernetes" });
    expect([c.sandboxNodeSelector, c.sandboxTolerations]).toEqual([undefined, undefined]);
  });

  it("bad JSON is an error naming the variable", () => {
    expect(errorOf({ ...poolEnv, [runtimeEnv.sandboxNodeSelector]: "{apex.dev/pool: sandbox}" }))
      .toMatch(/APEX_SANDBOX_NODE_SELECTOR: expected JSON such as \{"apex\.dev\/pool":"sandbox"\}/);
    expect(errorOf({ ...poolEnv, [runtimeEnv.sandboxTolerations]: "[" })).toMatch(/APEX_SANDBOX_TOLERATIONS: expected JSON such as \[/);
  });

  it("valid JSON of the wrong shape names the variable and the field", () => {
    expect(errorOf({ ...poolEnv, [runtimeEnv.sandboxNodeSelector]: '["apex.dev/pool"]' }))
      .toMatch(/APEX_SANDBOX_NODE_SELECTOR: expected a map of node labels/);
    expect(errorOf({ ...poolEnv, [runtimeEnv.sandboxTolerations]: '[{"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"Never"}]' }))
      .toMatch(/APEX_SANDBOX_TOLERATIONS\.0\.effect: expected "NoSchedule", "PreferNoSchedule" or "NoExecute"/);
    expect(errorOf({ ...poolEnv, [runtimeEnv.sandboxTolerations]: '{"key":"k"}' })).toMatch(/APEX_SANDBOX_TOLERATIONS: expected a list of tolerations/);
  });
});
