/** The stack harness itself: a program that fails inside an apply fails the run, with its message, at once. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { runStack } from "./harness";

describe("stack harness", () => {
  it("rejects with the message of an exception thrown inside an apply, instead of hanging", async () => {
    const started = Date.now();
    const run = runStack({
      stack: "test",
      stackFile: false,
      program: () => {
        const data = pulumi.output("x").apply((): Record<string, string> => { throw new Error("receiver url must start with https://"); });
        new k8s.core.v1.ConfigMap("broken", { metadata: { name: "broken" }, data });
      },
    });
    await expect(run).rejects.toThrow(/receiver url must start with https:\/\//);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("still records a healthy program after a failed one", async () => {
    const run = await runStack({ stack: "test", stackFile: false, program: () => { new k8s.core.v1.ConfigMap("fine", { metadata: { name: "fine" }, data: { a: "1" } }); } });
    expect(run.one("kubernetes:core/v1:ConfigMap").inputs.data).toEqual({ a: "1" });
  });
});
