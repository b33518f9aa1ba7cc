import { describe, expect, it } from "vitest";
import { services } from "../app/src/contract";
import { runStack } from "./harness";

describe("target is independent of environment", () => {
  it("renders the dev stack on Kubernetes (kind, minikube) with fixed replicas and plain-HTTP ingress", async () => {
    const run = await runStack({
      stack: "dev",
      config: {
        target: "kubernetes",
        workers: { sandboxDriver: "kubernetes" },
        ingress: { host: "api.apex.localhost", grpcHost: "grpc.apex.localhost", consoleHost: "console.apex.localhost" },
        network: { apiServerCidrs: ["172.18.0.2/32"], apiServerPort: 6443 },
        vaultAddress: "http://vault.vault.svc:8200",
      },
    });
    expect(run.ofType("docker:index/container:Container")).toEqual([]);
    const deployment = (name: string) => run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === name);
    expect(deployment(services.api.name).inputs.spec.replicas).toBe(1);
    expect(deployment(services.worker.name).inputs.spec.replicas).toBe(3);
    expect(run.ofType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
      .filter((r) => [services.api.name, services.worker.name].includes(r.inputs.spec.scaleTargetRef.name))).toEqual([]);
    expect(run.outputs.apiUrl).toBe("http://api.apex.localhost");
    expect(run.outputs.grpcEndpoint).toBe("grpc.apex.localhost:80");
    const ingress = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex");
    expect(ingress.inputs.spec.tls).toBeUndefined();
    // Vault inside the local cluster: the API server by its in-cluster name, Vault's own service account CA.
    expect(run.one("vault:kubernetes/authBackendConfig:AuthBackendConfig").inputs)
      .toMatchObject({ kubernetesHost: "https://kubernetes.default.svc", disableLocalCaJwt: false });
    const apiServerEgress = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", (r) => r.inputs.metadata.name === "worker-to-kube-apiserver-egress");
    expect(apiServerEgress.inputs.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: "172.18.0.2/32" } }], ports: [{ port: 6443, protocol: "TCP" }] }]);
  });
});
