import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { DockerPlatformResources } from "../components/platform/docker";
import { KubernetesPlatformResources } from "../components/platform/kubernetes";
import { NetworkFlows } from "../components/platform/network-flows";
import { deployService, type Platform, type ServiceSpec } from "../components/service";
import { dockerCpus, memoryMiB } from "../components/service/quantity";
import { runStack } from "./harness";

const resources = { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } };
const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name: "echo",
  component: "test",
  image: "ghcr.io/acme/echo:1.0",
  ports: [{ name: "http", port: 8000 }],
  resources,
  scaling: { replicas: 1 },
  ...over,
});

const dockerPlatform = (): Platform =>
  new DockerPlatformResources("t", { stack: "test", environment: "dev", namePrefix: "apex-test", publishAddress: "127.0.0.1", secrets: { K: pulumi.secret("v") } }).platform;
const kubernetesPlatform = (): Platform =>
  new KubernetesPlatformResources("t", { stack: "test", environment: "prod", namespace: "apex-test", secrets: { K: pulumi.secret("v") } }).platform;

/** Runs `build` under mocks and returns the error it throws. */
async function failureOf(build: () => void): Promise<string> {
  try {
    await runStack({ stack: "test", stackFile: false, program: build });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the program to fail");
}

describe("deployService", () => {
  it("renders one spec on both targets with the same name, image, ports and resources", async () => {
    const d = await runStack({ stack: "test", stackFile: false, program: () => { deployService("echo", spec(), dockerPlatform()); } });
    const container = d.one("docker:index/container:Container");
    expect(container.inputs).toMatchObject({ name: "apex-test-echo", memory: 128, memoryReservation: 64, cpus: "1", restart: "unless-stopped" });
    expect(container.inputs.networksAdvanced).toEqual([{ name: "apex-test", aliases: ["echo"] }]);
    expect(container.inputs.ports).toEqual([]);
    expect(container.parentUrn).toContain("apex:service:DockerService");

    const k = await runStack({ stack: "test", stackFile: false, program: () => { deployService("echo", spec(), kubernetesPlatform()); } });
    const deployment = k.one("kubernetes:apps/v1:Deployment");
    expect(deployment.inputs.metadata).toMatchObject({ name: "echo", namespace: "apex-test" });
    expect(deployment.inputs.spec.replicas).toBe(1);
    expect(deployment.inputs.spec.template.spec.containers[0]).toMatchObject({ image: "ghcr.io/acme/echo:1.0", resources });
    expect(k.one("kubernetes:core/v1:Service").inputs.spec.ports).toEqual([{ name: "http", port: 8000, targetPort: "http", protocol: "TCP" }]);
    expect(k.ofType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")).toEqual([]);
    // Every Deployment gets a PDB; maxUnavailable 1 never blocks draining a single replica.
    expect(k.one("kubernetes:policy/v1:PodDisruptionBudget").inputs.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: deployment.inputs.spec.selector.matchLabels },
    });
    for (const r of k.resources.filter((x) => x.type.startsWith("kubernetes:") && x.type !== "kubernetes:core/v1:Namespace" && x.inputs.metadata)) {
      expect(k.dependenciesOf(r).map((x) => x.type), r.name).toContain("kubernetes:core/v1:Namespace");
    }
  });

  it("renders config, tmp and data volumes per target", async () => {
    const volumes: ServiceSpec["volumes"] = [
      { kind: "config", name: "conf", mountPath: "/etc/echo", files: { "echo.yml": "a: 1\n" } },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "16Mi", memory: true },
      { kind: "data", name: "data", mountPath: "/data", size: "2Gi" },
    ];
    const d = await runStack({ stack: "test", stackFile: false, program: () => { deployService("echo", spec({ volumes, stateful: true }), dockerPlatform()); } });
    const c = d.one("docker:index/container:Container").inputs;
    expect(c.uploads).toEqual([{ file: "/etc/echo/echo.yml", content: "a: 1\n" }]);
    expect(c.tmpfs).toEqual({ "/tmp": "rw,nosuid,nodev,size=16777216" });
    // Config files go to a writable named volume: the engine refuses uploads into a read-only root.
    expect(c.readOnly).toBe(true);
    expect(c.volumes).toEqual([
      { volumeName: "apex-test-echo-conf", containerPath: "/etc/echo" },
      { volumeName: "apex-test-echo-data", containerPath: "/data" },
    ]);
    expect(d.one("docker:index/container:Container").deleteBeforeReplace).toBe(true);

    const k = await runStack({ stack: "test", stackFile: false, program: () => { deployService("echo", spec({ volumes, stateful: true }), kubernetesPlatform()); } });
    const sts = k.one("kubernetes:apps/v1:StatefulSet").inputs;
    expect(k.one("kubernetes:core/v1:ConfigMap").inputs.data).toEqual({ "conf.echo.yml": "a: 1\n" });
    expect(sts.spec.template.spec.volumes).toEqual([
      { name: "conf", configMap: { name: "echo-config", items: [{ key: "conf.echo.yml", path: "echo.yml" }] } },
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
    ]);
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("2Gi");
    // The pod template carries a digest of the config, so changing a file rolls the pods.
    const hash = sts.spec.template.metadata.annotations["apex.dev/config-sha256"];
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const changed = await runStack({ stack: "test", stackFile: false, program: () => {
      const conf = { kind: "config", name: "conf", mountPath: "/etc/echo", files: { "echo.yml": "a: 2\n" } } as const;
      deployService("echo", spec({ volumes: [conf, ...volumes.slice(1)], stateful: true }), kubernetesPlatform());
    } });
    expect(changed.one("kubernetes:apps/v1:StatefulSet").inputs.spec.template.metadata.annotations["apex.dev/config-sha256"]).not.toBe(hash);
  });

  it("refuses what a target cannot honour, naming the service", async () => {
    expect(await failureOf(() => {
      deployService("echo", spec({ volumes: [{ kind: "hostPath", name: "sock", hostPath: "/var/run/docker.sock", mountPath: "/s" }] }), kubernetesPlatform());
    })).toMatch(/echo: volume "sock" is a hostPath, which the kubernetes target refuses/);
    expect(await failureOf(() => {
      deployService("echo", spec({ volumes: [{ kind: "data", name: "d", mountPath: "/d", size: "1Gi" }] }), kubernetesPlatform());
    })).toMatch(/echo: data volumes need `stateful: true`/);
    expect(await failureOf(() => {
      deployService("echo", spec({ scaling: { replicas: 2 }, ports: [{ name: "http", port: 8000, hostPort: 8000 }] }), dockerPlatform());
    })).toMatch(/echo: 2 replicas cannot all publish host port 8000/);
    expect(await failureOf(() => {
      deployService("echo", spec({ dependsOn: ["db"] }), dockerPlatform());
    })).toMatch(/echo depends on db, which is not deployed yet/);
    expect(await failureOf(() => {
      deployService("echo", spec({ secretEnv: { TOKEN: { secret: "apex-secrets", key: "NOPE" } } }), dockerPlatform());
    })).toMatch(/echo: env TOKEN refers to secret apex-secrets\/NOPE, which the stack does not define/);
    expect(await failureOf(() => {
      const p = dockerPlatform();
      deployService("a", spec(), p);
      deployService("b", spec(), p);
    })).toMatch(/service echo is deployed twice/);
  });

  it("endpoint() names a port or says which exist", async () => {
    let message = "";
    await runStack({ stack: "test", stackFile: false, program: () => {
      const svc = deployService("echo", spec(), dockerPlatform());
      expect(svc.endpoint("http")).toBe("echo:8000");
      try {
        svc.endpoint("grpc");
      } catch (e) {
        message = (e as Error).message;
      }
    } });
    expect(message).toBe('echo has no port named "grpc" (has: http)');
  });

  it("converts Kubernetes quantities for the Docker engine", () => {
    expect(dockerCpus("500m")).toBe("0.5");
    expect(dockerCpus("2")).toBe("2");
    expect(memoryMiB("2Gi")).toBe(2048);
    expect(() => memoryMiB("2GB")).toThrow(/memory quantity/);
  });

  it("NetworkFlows refuses a flow with neither end in the namespace, and duplicate names", async () => {
    expect(await failureOf(() => {
      const platform = kubernetesPlatform();
      if (platform.target !== "kubernetes") return;
      new NetworkFlows("n", { platform, flows: [{ name: "x", from: { cidrs: ["1.1.1.1/32"] }, to: { namespace: "other" }, ports: [{ port: 1 }] }] });
    })).toMatch(/network flow "x": neither end is in the stack namespace/);
    expect(await failureOf(() => {
      const platform = kubernetesPlatform();
      if (platform.target !== "kubernetes") return;
      const f = { name: "x", from: { service: "a" }, to: { service: "b" }, ports: [{ port: 1 }] };
      new NetworkFlows("n", { platform, flows: [f, f] });
    })).toMatch(/network flow "x" is declared twice/);
  });
});

// Type tokens of the providers used above, so an SDK rename fails the type-check here.
void docker.Container;
void k8s.apps.v1.Deployment;
