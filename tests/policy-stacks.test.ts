/* eslint-disable @typescript-eslint/no-explicit-any */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluatePolicies, type Finding } from "../policy/lib/evaluate";
import type { PlainResource } from "../policy/lib/resource";
import { apexPolicies } from "../policy/policies";
import { startPolicyPackServer, type PolicyPackServer } from "../policy/test/crossguard-client";
import { runStack, type StackRun } from "./harness";

/**
 * The whole policy pack over both stacks' recorded resources: in process through the callbacks
 * the pack registers, and through the real CrossGuard analyzer server (policy/index.ts in its own
 * process, spoken to over gRPC as `pulumi preview --policy-pack policy` does).
 */
const asPolicyResources = (run: StackRun): PlainResource[] => run.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs }));
const mandatory = (findings: Finding[]) => findings.filter((f) => f.enforcementLevel === "mandatory").map((f) => `${f.policy}: ${f.message}`);

const runs: Record<string, StackRun> = {};
let pack: PolicyPackServer;
beforeAll(async () => {
  pack = await startPolicyPackServer();
  runs.dev = await runStack({ stack: "dev", secrets: { openaiApiKey: "sk-openai-policy-dev-0123456789" } });
  runs.prod = await runStack({ stack: "prod" });
  // prod with its own Postgres and Redis StatefulSets instead of RDS and ElastiCache.
  runs["prod-in-cluster"] = await runStack({ stack: "prod", config: { dataStores: "in-cluster" } });
  // The dev environment rendered on a local cluster (kind, minikube).
  runs["dev-on-kubernetes"] = await runStack({
    stack: "dev",
    config: {
      target: "kubernetes",
      workers: { sandboxDriver: "kubernetes" },
      ingress: { host: "api.apex.localhost", grpcHost: "grpc.apex.localhost", consoleHost: "console.apex.localhost" },
      network: { apiServerCidrs: ["172.18.0.2/32"], apiServerPort: 6443 },
      vaultAddress: "http://vault.vault.svc:8200",
    },
  });
}, 120_000);
afterAll(() => pack?.close());

describe("policy pack over the recorded stacks", () => {
  for (const stack of ["dev", "prod", "prod-in-cluster", "dev-on-kubernetes"]) {
    it(`${stack}: no mandatory violation`, async () => {
      const findings = await evaluatePolicies(apexPolicies, asPolicyResources(runs[stack]!));
      expect(mandatory(findings)).toEqual([]);
    });

    it(`${stack}: no mandatory violation from the CrossGuard server, resource by resource and stack-wide`, async () => {
      const resources = asPolicyResources(runs[stack]!);
      const perResource = (await Promise.all(resources.map((r) => pack.analyze(r)))).flat();
      const stackWide = await pack.analyzeStack(resources);
      const violations = [...perResource, ...stackWide].filter((d) => d.level === "mandatory").map((d) => `${d.policy}: ${d.message}`);
      expect(violations).toEqual([]);
      // The served pack says exactly what the in-process evaluation says (advisories included).
      const inProcess = await evaluatePolicies(apexPolicies, resources);
      const key = (d: { policy: string; message: string }) => `${d.policy}: ${d.message}`;
      // The server prefixes each message with the policy's description line.
      const descriptions = new Map(apexPolicies.map((p) => [p.name, `${p.description}\n`]));
      const served = [...perResource, ...stackWide].map((d) => ({ ...d, message: d.message.replace(descriptions.get(d.policy) ?? "", "") }));
      expect(served.map(key).sort()).toEqual(inProcess.map(key).sort());
    });
  }

  it("the pack really inspects what the stacks contain", () => {
    const dev = runs.dev!;
    const prod = runs.prod!;
    expect(dev.ofType("docker:index/container:Container").length).toBeGreaterThanOrEqual(7);
    expect(dev.ofType("vault:index/policy:Policy")).toHaveLength(6);
    for (const type of [
      "kubernetes:apps/v1:Deployment", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:policy/v1:PodDisruptionBudget",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:core/v1:Service", "vault:index/policy:Policy", "vault:kubernetes/authBackendRole:AuthBackendRole",
      "aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:ecr/repository:Repository",
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
    ]) {
      expect(prod.ofType(type).length, type).toBeGreaterThan(0);
    }
  });

  it("a regression in a recorded stack is caught (the run can fail)", async () => {
    const prod = asPolicyResources(runs.prod!);
    const broken = prod.map((r): PlainResource => {
      if (r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.props.metadata?.namespace === "apex-sandbox") {
        return { ...r, props: { ...r.props, spec: { ...r.props.spec, policyTypes: ["Ingress"] } } };
      }
      if (r.type === "kubernetes:apps/v1:Deployment" && r.props.metadata?.name === "apex-api") {
        const spec = structuredClone(r.props.spec) as any;
        spec.replicas = 3;
        spec.template.spec.containers[0].image = "registry.example.com/apex/runtime:latest";
        spec.template.spec.containers[0].env.push({ name: "OPENAI_API_KEY", value: "sk-plain-in-env-0123456789abcdef" });
        return { ...r, props: { ...r.props, spec } };
      }
      if (r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role" && r.props.metadata?.namespace === "apex-sandbox") {
        return { ...r, props: { ...r.props, rules: [...r.props.rules, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] } };
      }
      if (r.type === "vault:index/policy:Policy" && r.props.name === "apex-read") {
        return { ...r, props: { ...r.props, policy: 'path "secret/apex/*" { capabilities = ["read"] }\npath "secret/*" { capabilities = ["read"] }' } };
      }
      return r;
    });
    const baseline = new Set(mandatory(await evaluatePolicies(apexPolicies, prod)));
    const introduced = (await evaluatePolicies(apexPolicies, broken))
      .filter((f) => f.enforcementLevel === "mandatory" && !baseline.has(`${f.policy}: ${f.message}`));
    expect(new Set(introduced.map((f) => f.policy))).toEqual(new Set([
      "sandbox-namespace-default-deny-egress",
      "hpa-managed-workloads-omit-replicas",
      "no-latest-images-in-prod",
      "prod-images-pinned-by-digest",
      "no-plain-secrets",
      "worker-rbac-scoped-to-sandbox",
      "vault-policies-least-privilege",
    ]));
  });
});
