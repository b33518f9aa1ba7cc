import { describe, expect, it } from "vitest";
import { imagePin } from "../lib/images";
import {
  allowLoadBalancerAnnotation,
  cidrContains,
  hpaManagedWorkloadsOmitReplicas,
  longRunningContainersHaveProbes,
  noLatestImagesInProd,
  noUnapprovedLoadBalancers,
  prodDeploymentsHavePdb,
  sandboxNamespaceDenysEgress,
} from "../rules/workloads";
import { deployment, hardenedContainer, hardenedDockerContainer, resource } from "./fixtures";

describe("no-latest-images-in-prod", () => {
  const check = noLatestImagesInProd.check;
  const withImage = (image: unknown) => deployment("api", { container: hardenedContainer({ image }) });
  it("passes tags and digests, and a registry port is not a tag", () => {
    expect(check(withImage("registry:5000/apex/api:1.2.3"))).toEqual([]);
    expect(check(withImage(`ghcr.io/acme/apex@sha256:${"a".repeat(64)}`))).toEqual([]);
    expect(imagePin("registry:5000/apex/api")).toEqual({ kind: "none" });
  });
  it("fails latest and untagged images", () => {
    expect(check(withImage("apex/api:latest"))).toEqual([expect.stringContaining("uses the latest tag")]);
    expect(check(withImage("registry:5000/apex/api"))).toEqual([expect.stringContaining("untagged")]);
  });
  it("fails a container without an image, and leaves dev (Docker) containers alone", () => {
    expect(check(withImage(undefined))).toEqual([expect.stringContaining("has no image")]);
    expect(check(hardenedDockerContainer({ image: "apex-api:latest" }))).toEqual([]);
  });
});

describe("long-running-containers-have-probes", () => {
  const check = longRunningContainersHaveProbes.check;
  it("passes containers with readiness and liveness probes; init containers and Jobs need none", () => {
    expect(check(deployment("api", { pod: { initContainers: [{ name: "migrate", image: "x:1" }] } }))).toEqual([]);
    expect(check(resource("kubernetes:batch/v1:Job", "j", { spec: { template: { spec: { containers: [{ name: "j" }] } } } }))).toEqual([]);
  });
  it("fails a missing liveness probe", () => {
    expect(check(deployment("api", { container: hardenedContainer({ livenessProbe: undefined }) }))).toEqual([expect.stringContaining("livenessProbe missing")]);
  });
  it("fails a StatefulSet container with no probes at all", () => {
    const sts = resource("kubernetes:apps/v1:StatefulSet", "pg", { spec: { template: { spec: { containers: [{ name: "postgres" }] } } } });
    expect(check(sts)).toEqual([expect.stringContaining("readinessProbe and livenessProbe missing")]);
    expect(check(resource("kubernetes:apps/v1:StatefulSet", "pg", { spec: undefined }))).toEqual([]);
  });
});

const hpa = (target: string, namespace = "apex") =>
  resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", `${target}-hpa`, {
    metadata: { name: `${target}-hpa`, namespace },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target }, minReplicas: 2, maxReplicas: 10 },
  });

describe("hpa-managed-workloads-omit-replicas", () => {
  const check = hpaManagedWorkloadsOmitReplicas.check;
  it("passes an HPA target without replicas, and replicas on a Deployment no HPA scales", () => {
    expect(check([deployment("api"), hpa("api"), deployment("jaeger", { spec: { replicas: 1 } })])).toEqual([]);
  });
  it("fails replicas on the HPA's target", () => {
    const d = deployment("api", { spec: { replicas: 3 } });
    expect(check([d, hpa("api")])).toEqual([{ message: expect.stringContaining("spec.replicas=3"), urn: d.urn }]);
  });
  it("treats a KEDA ScaledObject like the HPA it owns (kind defaults to Deployment)", () => {
    const scaledObject = (spec: unknown) => resource("kubernetes:keda.sh/v1alpha1:ScaledObject", "worker-scaler", { metadata: { name: "worker", namespace: "apex" }, spec });
    const d = deployment("worker", { spec: { replicas: 2 } });
    expect(check([d, scaledObject({ scaleTargetRef: { name: "worker" } })])).toEqual([{ message: expect.stringContaining("spec.replicas=2"), urn: d.urn }]);
    expect(check([d, scaledObject({ scaleTargetRef: { kind: "StatefulSet", name: "worker" } })])).toEqual([]);
    expect(check([deployment("worker"), scaledObject({ scaleTargetRef: { name: "worker" } })])).toEqual([]);
  });
  it("matches by namespace, and skips an HPA whose target is undefined", () => {
    expect(check([deployment("api", { spec: { replicas: 3 } }), hpa("api", "other")])).toEqual([]);
    expect(check([deployment("api", { spec: { replicas: 3 } }), resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "h", { spec: {} })])).toEqual([]);
  });
});

const pdb = (app: string, namespace = "apex") =>
  resource("kubernetes:policy/v1:PodDisruptionBudget", `${app}-pdb`, { metadata: { namespace }, spec: { minAvailable: 1, selector: { matchLabels: { app } } } });

describe("prod-deployments-have-pdb", () => {
  const check = prodDeploymentsHavePdb.check;
  it("passes a Deployment whose pods a PDB selects", () => {
    expect(check([deployment("api"), pdb("api")])).toEqual([]);
  });
  it("fails a Deployment without one, or with one in another namespace", () => {
    expect(check([deployment("api"), pdb("worker")])).toHaveLength(1);
    expect(check([deployment("api"), pdb("api", "default")])).toHaveLength(1);
  });
  it("an empty or undefined selector covers nothing", () => {
    const empty = resource("kubernetes:policy/v1:PodDisruptionBudget", "p", { metadata: { namespace: "apex" }, spec: { selector: { matchLabels: {} } } });
    const undef = resource("kubernetes:policy/v1:PodDisruptionBudget", "q", { metadata: { namespace: "apex" } });
    expect(check([deployment("api"), empty, undef])).toHaveLength(1);
    expect(check([])).toEqual([]);
  });
});

describe("no-unapproved-load-balancers", () => {
  const check = noUnapprovedLoadBalancers.check;
  const svc = (type: unknown, annotations?: Record<string, string>) => resource("kubernetes:core/v1:Service", "api", { metadata: { annotations }, spec: { type } });
  it("passes ClusterIP and an annotated LoadBalancer", () => {
    expect(check(svc("ClusterIP"))).toEqual([]);
    expect(check(svc("LoadBalancer", { [allowLoadBalancerAnnotation]: "true" }))).toEqual([]);
  });
  it("fails an unannotated LoadBalancer (and one annotated false)", () => {
    expect(check(svc("LoadBalancer"))).toHaveLength(1);
    expect(check(svc("LoadBalancer", { [allowLoadBalancerAnnotation]: "false" }))).toHaveLength(1);
  });
  it("an undefined type is ClusterIP", () => {
    expect(check(svc(undefined))).toEqual([]);
  });
});

const sandboxNs = resource("kubernetes:core/v1:Namespace", "sandbox", { metadata: { name: "apex-sandbox" } });
const netpol = (name: string, spec: Record<string, unknown>) => resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", name, { metadata: { name, namespace: "apex-sandbox" }, spec });
const denyAll = netpol("deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });

describe("sandbox-namespace-default-deny-egress", () => {
  const check = sandboxNamespaceDenysEgress.check;
  it("passes default deny plus an allowlist that excepts the metadata endpoint", () => {
    const allow = netpol("allow", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32", "10.0.0.0/8"] } }] }],
    });
    expect(check([sandboxNs, denyAll, allow])).toEqual([]);
  });
  it("fails a namespace with no default-deny egress, and an allowlist reaching 169.254.169.254", () => {
    const ingressOnly = netpol("deny-in", { podSelector: {}, policyTypes: ["Ingress"] });
    expect(check([sandboxNs, ingressOnly])).toEqual([{ message: expect.stringContaining("no default-deny egress"), urn: sandboxNs.urn }]);
    const leaky = netpol("leaky", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "169.254.0.0/16" } }] }] });
    expect(check([sandboxNs, denyAll, leaky])).toEqual([{ message: expect.stringContaining("169.254.169.254"), urn: leaky.urn }]);
    const scoped = netpol("scoped", { podSelector: { matchLabels: { a: "b" } }, policyTypes: ["Egress"] });
    expect(check([sandboxNs, scoped])).toHaveLength(1);
  });
  it("does not apply to a stack without the sandbox namespace (dev), and an undefined spec denies nothing", () => {
    expect(check([hardenedDockerContainer()])).toEqual([]);
    expect(check([sandboxNs, netpol("empty", undefined as never)])).toHaveLength(1);
  });
  it("computes CIDR membership", () => {
    expect(cidrContains("0.0.0.0/0", "169.254.169.254")).toBe(true);
    expect(cidrContains("169.254.169.254/32", "169.254.169.254")).toBe(true);
    expect(cidrContains("10.0.0.0/8", "169.254.169.254")).toBe(false);
    expect(cidrContains("not-a-cidr", "169.254.169.254")).toBe(false);
  });
});
