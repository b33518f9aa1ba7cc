import { describe, expect, it } from "vitest";
import {
  containersDropAllCapabilities,
  containersHaveResources,
  containersNoPrivilegeEscalation,
  containersReadOnlyRootFilesystem,
  containersRunAsNonRoot,
  containersSeccomp,
} from "../rules/containers";
import { deployment, hardenedContainer, hardenedDockerContainer, resource } from "./fixtures";

const withSecurity = (sc: Record<string, unknown>) => hardenedContainer({ securityContext: { ...hardenedContainer().securityContext, ...sc } });

describe("containers-have-resources", () => {
  const check = containersHaveResources.check;
  it("passes a container with requests and limits", () => {
    expect(check(deployment("api"))).toEqual([]);
    expect(check(hardenedDockerContainer())).toEqual([]);
  });
  it("names each missing quantity", () => {
    const out = check(deployment("api", { container: hardenedContainer({ resources: { requests: { cpu: "1" }, limits: { cpu: "1", memory: "1Gi" } } }) }));
    expect(out).toEqual([expect.stringContaining("resources.requests.memory not set")]);
    expect(check(hardenedDockerContainer({ memory: 0 }))).toEqual([expect.stringContaining("memory limit not set")]);
  });
  it("treats undefined resources as missing, and init containers count too", () => {
    const out = check(deployment("api", { pod: { initContainers: [{ name: "migrate", image: "x:1" }] }, container: hardenedContainer({ resources: undefined }) }));
    expect(out).toHaveLength(2);
    expect(out[1]).toContain('initContainer "migrate"');
    expect(check(hardenedDockerContainer({ memory: undefined, cpus: undefined }))).toEqual([expect.stringContaining("memory, cpus")]);
  });
  it("ignores resources without containers and a workload whose spec is unknown", () => {
    expect(check(resource("kubernetes:core/v1:Service", "svc", { spec: { type: "ClusterIP" } }))).toEqual([]);
    expect(check(resource("kubernetes:apps/v1:Deployment", "api", {}))).toEqual([]);
  });
});

describe("containers-run-as-non-root", () => {
  const check = containersRunAsNonRoot.check;
  it("passes runAsNonRoot inherited from the pod, and a non-zero runAsUser alone", () => {
    expect(check(deployment("api"))).toEqual([]);
    const uidOnly = deployment("api", { pod: { securityContext: { seccompProfile: { type: "RuntimeDefault" } } }, container: withSecurity({ runAsNonRoot: undefined }) });
    expect(check(uidOnly)).toEqual([]);
  });
  it("fails uid 0 even with runAsNonRoot", () => {
    expect(check(deployment("api", { container: withSecurity({ runAsUser: 0 }) }))).toEqual([expect.stringContaining("runAsUser is 0")]);
    expect(check(hardenedDockerContainer({ user: "root" }))).toEqual([expect.stringContaining('"root" (root)')]);
    expect(check(hardenedDockerContainer({ user: "0:0" }))).toHaveLength(1);
  });
  it("fails when nothing says non-root (undefined)", () => {
    const bare = deployment("api", { pod: { securityContext: undefined }, container: hardenedContainer({ securityContext: undefined }) });
    expect(check(bare)).toEqual([expect.stringContaining("neither runAsNonRoot")]);
    expect(check(hardenedDockerContainer({ user: undefined }))).toEqual([expect.stringContaining("unset (root)")]);
  });
});

describe("containers-read-only-root-filesystem", () => {
  const check = containersReadOnlyRootFilesystem.check;
  it("passes read-only containers", () => {
    expect(check(deployment("api"))).toEqual([]);
    expect(check(hardenedDockerContainer())).toEqual([]);
  });
  it("fails writable ones", () => {
    expect(check(deployment("api", { container: withSecurity({ readOnlyRootFilesystem: false }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ readOnly: false }))).toHaveLength(1);
  });
  it("fails when unset", () => {
    expect(check(deployment("api", { container: hardenedContainer({ securityContext: undefined }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ readOnly: undefined }))).toEqual([expect.stringContaining("readOnly is not true")]);
  });
});

describe("containers-drop-all-capabilities", () => {
  const check = containersDropAllCapabilities.check;
  it("passes drop ALL", () => {
    expect(check(deployment("api"))).toEqual([]);
    expect(check(hardenedDockerContainer())).toEqual([]);
  });
  it("fails a partial drop", () => {
    expect(check(deployment("api", { container: withSecurity({ capabilities: { drop: ["NET_RAW"] } }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ capabilities: { drops: ["NET_RAW"], adds: [] } }))).toHaveLength(1);
  });
  it("fails when capabilities are unset", () => {
    expect(check(deployment("api", { container: withSecurity({ capabilities: undefined }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ capabilities: undefined }))).toHaveLength(1);
  });
});

describe("containers-no-privilege-escalation", () => {
  const check = containersNoPrivilegeEscalation.check;
  it("passes allowPrivilegeEscalation false and no-new-privileges in any spelling", () => {
    expect(check(deployment("api"))).toEqual([]);
    for (const opt of ["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"]) {
      expect(check(hardenedDockerContainer({ securityOpts: [opt] }))).toEqual([]);
    }
  });
  it("fails privileged containers and explicit escalation", () => {
    expect(check(deployment("api", { container: withSecurity({ privileged: true }) }))).toEqual([expect.stringContaining("privileged is true")]);
    expect(check(deployment("api", { container: withSecurity({ allowPrivilegeEscalation: true }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ privileged: true }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ securityOpts: ["no-new-privileges:false"] }))).toHaveLength(1);
  });
  it("fails when unset (Kubernetes defaults to allowing escalation)", () => {
    expect(check(deployment("api", { container: withSecurity({ allowPrivilegeEscalation: undefined }) }))).toHaveLength(1);
    expect(check(hardenedDockerContainer({ securityOpts: undefined }))).toHaveLength(1);
  });
});

describe("containers-seccomp", () => {
  const check = containersSeccomp.check;
  it("passes RuntimeDefault on the pod or Localhost on the container", () => {
    expect(check(deployment("api"))).toEqual([]);
    const local = deployment("api", { pod: { securityContext: {} }, container: withSecurity({ seccompProfile: { type: "Localhost", localhostProfile: "apex.json" } }) });
    expect(check(local)).toEqual([]);
    expect(check(hardenedDockerContainer())).toEqual([]);
  });
  it("fails Unconfined, including a container overriding the pod", () => {
    expect(check(deployment("api", { container: withSecurity({ seccompProfile: { type: "Unconfined" } }) }))).toEqual([expect.stringContaining("Unconfined")]);
    expect(check(hardenedDockerContainer({ securityOpts: ["no-new-privileges", "seccomp=unconfined"] }))).toHaveLength(1);
  });
  it("fails an unset profile on Kubernetes, where unset means Unconfined", () => {
    expect(check(deployment("api", { pod: { securityContext: undefined } }))).toEqual([expect.stringContaining("defaults to Unconfined")]);
  });
});

describe("every container policy covers all workload kinds", () => {
  it("finds containers in a CronJob and a bare Pod", () => {
    const bad = { name: "job", image: "x:1" };
    const cron = resource("kubernetes:batch/v1:CronJob", "cleanup", { spec: { jobTemplate: { spec: { template: { spec: { containers: [bad] } } } } } });
    const pod = resource("kubernetes:core/v1:Pod", "p", { spec: { containers: [bad] } });
    for (const policy of [containersHaveResources, containersRunAsNonRoot, containersReadOnlyRootFilesystem, containersDropAllCapabilities, containersNoPrivilegeEscalation, containersSeccomp]) {
      expect(policy.check(cron), policy.name).toHaveLength(1);
      expect(policy.check(pod), policy.name).toHaveLength(1);
    }
  });
});
