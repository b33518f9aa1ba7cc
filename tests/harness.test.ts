/** The stack harness itself: a program that fails inside an apply fails the run, with its message, at once. */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { MOCK_AWS, runStack } from "./harness";

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

  it("records the protect and retainOnDelete options, the invokes, AWS attributes and StackReference outputs", async () => {
    const run = await runStack({
      stack: "test",
      stackFile: false,
      stackReferences: { "acme/eks/prod": { vpcId: "vpc-0abc" } },
      program: () => {
        const key = new aws.kms.Key("key", { description: "k" }, { protect: true });
        new aws.s3.Bucket("logs", {}, { retainOnDelete: true });
        const token = aws.ecr.getAuthorizationTokenOutput({});
        const cluster = new pulumi.StackReference("acme/eks/prod");
        return { keyArn: key.arn, user: token.userName, vpcId: cluster.requireOutput("vpcId") };
      },
    });
    const key = run.one("aws:kms/key:Key");
    expect([key.protect, key.retainOnDelete]).toEqual([true, false]);
    const bucket = run.one("aws:s3/bucket:Bucket");
    expect([bucket.protect, bucket.retainOnDelete]).toEqual([false, true]);
    expect(run.invokes.map((i) => i.token)).toContain("aws:ecr/getAuthorizationToken:getAuthorizationToken");
    expect(run.outputs).toMatchObject({ user: "AWS", vpcId: "vpc-0abc" });
    expect(run.outputs.keyArn).toMatch(new RegExp(`^arn:aws:kms:${MOCK_AWS.region}:${MOCK_AWS.accountId}:key/`));
  });
});
