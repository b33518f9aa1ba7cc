import { describe, expect, it } from "vitest";
import { digestPinProblem } from "../lib/images";
import { prodImagesPinnedByDigest } from "../rules/images";
import { deployment, hardenedContainer, hardenedDockerContainer, resource } from "./fixtures";

const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
const check = prodImagesPinnedByDigest.check;

describe("prod-images-pinned-by-digest", () => {
  it("passes repo@sha256 and repo:tag@sha256, with or without a registry port", () => {
    expect(check(deployment("api", { container: hardenedContainer({ image: `ghcr.io/acme/apex@${digest}` }) }))).toEqual([]);
    expect(check(deployment("api", { container: hardenedContainer({ image: `registry:5000/postgres:16-alpine@${digest}` }) }))).toEqual([]);
  });

  it("fails a tag-only, untagged or malformed reference, init containers included", () => {
    expect(check(deployment("pg", { container: hardenedContainer({ image: "postgres:16-alpine" }) }))).toEqual([
      'Deployment "pg" container "app": image "postgres:16-alpine" is not pinned by digest (expected "repo:tag@sha256:<64 hex>"; a tag can be re-pointed)',
    ]);
    expect(check(deployment("api", { pod: { initContainers: [{ name: "migrate", image: "apex/runtime" }] }, container: hardenedContainer({ image: `x@${digest}` }) })))
      .toEqual([expect.stringContaining('initContainer "migrate": image "apex/runtime" is not pinned by digest')]);
    expect(digestPinProblem("redis@sha256:abc")).toMatch(/malformed digest/);
    expect(digestPinProblem(undefined)).toBe("has no image");
  });

  it("checks StatefulSets, DaemonSets, Jobs and CronJobs", () => {
    const pod = { containers: [{ name: "c", image: "prom/prometheus:v2.48.1" }] };
    for (const type of ["kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"]) {
      expect(check(resource(type, "w", { spec: { template: { spec: pod } } })), type).toHaveLength(1);
    }
    expect(check(resource("kubernetes:batch/v1:CronJob", "w", { spec: { jobTemplate: { spec: { template: { spec: pod } } } } }))).toHaveLength(1);
  });

  it("reads the Pod manifest of a ConfigMap (the sandbox Pod template)", () => {
    const template = (image: string) => resource("kubernetes:core/v1:ConfigMap", "apex-sandbox-pod-template", {
      data: { "pod.json": JSON.stringify({ apiVersion: "v1", kind: "Pod", spec: { containers: [{ name: "sandbox", image }] } }), "README": "not json" },
    });
    expect(check(template(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/apex/apex-sandbox@${digest}`))).toEqual([]);
    expect(check(template("apex/apex-sandbox:dev"))).toEqual([
      'ConfigMap "apex-sandbox-pod-template" pod.json container "sandbox": image "apex/apex-sandbox:dev" is not pinned by digest (expected "repo:tag@sha256:<64 hex>"; a tag can be re-pointed)',
    ]);
    expect(check(resource("kubernetes:core/v1:ConfigMap", "other", { data: { "x.json": '{"kind":"List"}' } }))).toEqual([]);
  });

  it("leaves dev (Docker) containers alone", () => {
    expect(check(hardenedDockerContainer({ image: "postgres:16-alpine" }))).toEqual([]);
  });
});
