import { describe, expect, it } from "vitest";
import { exemptAnnotation, exemptReasonAnnotation, exemptionOf } from "../lib/exemptions";
import { evaluatePolicies } from "../lib/evaluate";
import { apexPolicies } from "../policies";
import { deployment, hardenedContainer, hardenedDockerContainer } from "./fixtures";

const rootShipper = (annotations?: Record<string, string>) => {
  const d = deployment("log-shipper", {
    container: hardenedContainer({
      securityContext: { ...hardenedContainer().securityContext, runAsNonRoot: false, runAsUser: 0 },
      livenessProbe: undefined,
      env: [{ name: "API_TOKEN", value: "literal" }],
    }),
    pod: { securityContext: { seccompProfile: { type: "RuntimeDefault" } } },
  });
  return { ...d, type: "kubernetes:apps/v1:DaemonSet", props: { ...d.props, metadata: { ...d.props.metadata, annotations } } };
};

const mandatoryPolicies = async (r: ReturnType<typeof rootShipper>) =>
  new Set((await evaluatePolicies(apexPolicies, [r])).filter((f) => f.enforcementLevel === "mandatory").map((f) => f.policy));

describe("policy exemptions", () => {
  it("without an exemption the violations stand", async () => {
    expect(await mandatoryPolicies(rootShipper())).toEqual(new Set(["containers-run-as-non-root", "long-running-containers-have-probes", "no-plain-secrets"]));
  });

  it("a reasoned exemption skips the named exemptible policies and is reported as advisory", async () => {
    const r = rootShipper({ [exemptAnnotation]: "containers-run-as-non-root, long-running-containers-have-probes, no-plain-secrets", [exemptReasonAnnotation]: "reads /var/log/pods" });
    // no-plain-secrets is not exemptible: secrets never get a pass.
    expect(await mandatoryPolicies(r)).toEqual(new Set(["no-plain-secrets"]));
    const report = (await evaluatePolicies(apexPolicies, [r])).filter((f) => f.policy === "policy-exemptions");
    expect(report).toEqual([expect.objectContaining({ enforcementLevel: "advisory", message: expect.stringContaining("reads /var/log/pods") })]);
  });

  it("an exemption without a reason (undefined or blank) is ignored", async () => {
    expect(await mandatoryPolicies(rootShipper({ [exemptAnnotation]: "containers-run-as-non-root" }))).toContain("containers-run-as-non-root");
    expect(exemptionOf(rootShipper({ [exemptAnnotation]: "containers-run-as-non-root", [exemptReasonAnnotation]: "  " }))).toBeUndefined();
    expect(exemptionOf(rootShipper())).toBeUndefined();
  });

  it("Docker containers carry it as labels", () => {
    const c = hardenedDockerContainer({ labels: [{ label: exemptAnnotation, value: "containers-read-only-root-filesystem" }, { label: exemptReasonAnnotation, value: "writes its own config" }] });
    expect(exemptionOf(c)).toEqual({ policies: ["containers-read-only-root-filesystem"], reason: "writes its own config" });
  });
});
