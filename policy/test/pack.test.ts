import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { evaluatePolicies } from "../lib/evaluate";
import { apexPolicies } from "../policies";
import { deployment, hardenedDockerContainer, resource } from "./fixtures";

describe("the apex policy pack", () => {
  it("registers uniquely named policies, all mandatory but the labels and the exemption report", () => {
    const names = apexPolicies.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(apexPolicies.filter((p) => p.enforcementLevel !== "mandatory").map((p) => p.name)).toEqual(["kubernetes-recommended-labels", "policy-exemptions"]);
    for (const p of apexPolicies) expect(p.description, p.name).toBeTruthy();
  });

  it("index.ts constructs the pack from this list only, and PulumiPolicy.yaml declares a nodejs pack", () => {
    const index = readFileSync(join(__dirname, "..", "index.ts"), "utf8");
    expect(index).toMatch(/new PolicyPack\("apex", \{ policies: \[\.\.\.apexPolicies\] \}\)/);
    const manifest = parse(readFileSync(join(__dirname, "..", "PulumiPolicy.yaml"), "utf8")) as { runtime: { name: string } };
    expect(manifest.runtime.name).toBe("nodejs");
  });

  it("reports through the registered CrossGuard callbacks, with urns and levels", async () => {
    const bad = deployment("api", { spec: { replicas: 2 }, pod: { securityContext: undefined } });
    const findings = await evaluatePolicies(apexPolicies, [bad, resource("kubernetes:core/v1:Service", "lb", { spec: { type: "LoadBalancer" } }), hardenedDockerContainer()]);
    const byPolicy = new Set(findings.map((f) => f.policy));
    expect(byPolicy).toEqual(new Set(["containers-seccomp", "prod-deployments-have-pdb", "no-unapproved-load-balancers", "kubernetes-recommended-labels"]));
    expect(findings.find((f) => f.policy === "prod-deployments-have-pdb")).toMatchObject({ urn: bad.urn, enforcementLevel: "mandatory" });
  });
});
