import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { serviceLabels } from "./labels";
import { isAutoscaled, type ProbeSpec, type ServiceSpec } from "./model";
import type { DockerPlatform } from "./platform";
import { dockerCpus, memoryMiB, tmpfsSize } from "./quantity";

export interface DockerServiceArgs {
  readonly spec: ServiceSpec;
  readonly platform: DockerPlatform;
}

/**
 * A ServiceSpec on the local Docker engine, the seed's Compose service as Pulumi resources:
 * one container per replica (autoscaled specs run `minReplicas`), on the stack network with the
 * service name as DNS alias, a named volume per data volume, tmpfs for tmp volumes, uploads for
 * config files (into a named volume: the root filesystem is read-only), a health check, `unless-stopped` restarts, and the same hardening as Kubernetes
 * (non-root user, read-only root, no capabilities, no-new-privileges). Containers with a health
 * check are created with `wait: true`, so dependants (Pulumi dependsOn) start once it is healthy.
 */
export class DockerService extends pulumi.ComponentResource {
  public readonly containers: docker.Container[] = [];
  public readonly volumes: docker.Volume[] = [];
  /** DNS name on the stack network. */
  public readonly host: string;

  constructor(name: string, args: DockerServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:service:DockerService", name, {}, opts);
    const { spec, platform } = args;
    const child = { parent: this, provider: platform.provider };
    this.host = spec.name;
    const replicas = isAutoscaled(spec.scaling) ? spec.scaling.minReplicas : spec.scaling.replicas;
    const published = spec.ports.filter((p) => p.hostPort !== undefined);
    if (replicas > 1 && published.length > 0) {
      throw new Error(`${spec.name}: ${replicas} replicas cannot all publish host port ${published[0]?.hostPort}`);
    }
    const labels = Object.entries(serviceLabels(spec, platform.labels)).map(([label, value]) => ({ label, value }));
    const image = typeof spec.image === "string"
      ? new docker.RemoteImage(`${name}-image`, { name: spec.image, keepLocally: true }, child).imageId
      : spec.image;

    const mounts: docker.types.input.ContainerVolume[] = [];
    const tmpfs: Record<string, string> = {};
    const uploads: docker.types.input.ContainerUpload[] = [];
    for (const v of spec.volumes ?? []) {
      switch (v.kind) {
        case "data": {
          const volume = new docker.Volume(`${name}-${v.name}`, {
            name: `${platform.namePrefix}-${spec.name}-${v.name}`,
            labels,
          }, child);
          this.volumes.push(volume);
          mounts.push({ volumeName: volume.name, containerPath: v.mountPath });
          break;
        }
        case "tmp":
          tmpfs[v.mountPath] = ["rw", "nosuid", "nodev", ...(v.sizeLimit ? [tmpfsSize(v.sizeLimit)] : [])].join(",");
          break;
        case "config": {
          // The engine refuses uploads into a read-only root filesystem ("container rootfs is marked
          // read-only") unless the destination is a writable volume mount, so each config volume is
          // a named volume the files are uploaded into (root-owned: the container user only reads them).
          const volume = new docker.Volume(`${name}-${v.name}`, {
            name: `${platform.namePrefix}-${spec.name}-${v.name}`,
            labels,
          }, child);
          mounts.push({ volumeName: volume.name, containerPath: v.mountPath });
          for (const [file, content] of Object.entries(v.files)) uploads.push({ file: `${v.mountPath}/${file}`, content });
          break;
        }
        case "hostPath":
          mounts.push({ hostPath: v.hostPath, containerPath: v.mountPath, readOnly: v.readOnly ?? false });
          break;
      }
    }

    const envs = renderEnv(spec, platform);
    const healthcheck = renderHealthcheck(spec);
    const user = spec.user ?? { uid: 1000, gid: 1000 };
    const dependsOn = (spec.dependsOn ?? []).map((dep) => {
      const resource = platform.deployed.get(dep);
      if (!resource) throw new Error(`${spec.name} depends on ${dep}, which is not deployed yet: deploy ${dep} first`);
      return resource;
    });

    for (let i = 0; i < replicas; i++) {
      const containerName = replicas === 1 ? `${platform.namePrefix}-${spec.name}` : `${platform.namePrefix}-${spec.name}-${i + 1}`;
      this.containers.push(new docker.Container(replicas === 1 ? name : `${name}-${i + 1}`, {
        name: containerName,
        hostname: containerName,
        image,
        command: spec.args,
        entrypoints: spec.command,
        envs,
        labels,
        user: `${user.uid}:${user.gid}`,
        groupAdds: spec.supplementalGroups?.map(String),
        readOnly: spec.readOnlyRootFilesystem ?? true,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        memory: memoryMiB(spec.resources.limits.memory),
        memoryReservation: memoryMiB(spec.resources.requests.memory),
        cpus: dockerCpus(spec.resources.limits.cpu),
        networksAdvanced: [{ name: platform.networkName, aliases: [spec.name] }],
        ports: published.map((p) => ({ internal: p.port, external: p.hostPort, ip: platform.publishAddress, protocol: "tcp" })),
        volumes: mounts,
        tmpfs,
        uploads,
        healthcheck,
        wait: healthcheck !== undefined,
        waitTimeout: 120,
        restart: "unless-stopped",
        // A draining process gets its grace on `docker stop` and when Pulumi replaces the container.
        stopTimeout: spec.terminationGracePeriodSeconds,
        destroyGraceSeconds: spec.terminationGracePeriodSeconds,
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
      // Fixed container names: a replacement must remove the old container before creating its successor.
      }, { ...child, dependsOn, deleteBeforeReplace: true }));
    }
    this.registerOutputs({ host: this.host });
  }
}

/** Plain env plus secret env, the latter read from the stack's secret map and kept secret. */
function renderEnv(spec: ServiceSpec, platform: DockerPlatform): pulumi.Output<string[]> {
  const plain = Object.entries(spec.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`);
  const secret = Object.entries(spec.secretEnv ?? {}).map(([k, ref]) => {
    const value = platform.secrets[ref.secret]?.[ref.key];
    if (value === undefined) throw new Error(`${spec.name}: env ${k} refers to secret ${ref.secret}/${ref.key}, which the stack does not define`);
    return pulumi.secret(pulumi.interpolate`${k}=${value}`);
  });
  const all = pulumi.all([...plain, ...secret]);
  return secret.length > 0 ? pulumi.secret(all) : all;
}

function renderHealthcheck(spec: ServiceSpec): docker.types.input.ContainerHealthcheck | undefined {
  const probe: ProbeSpec | undefined = spec.probes?.readiness ?? spec.probes?.liveness;
  const timing = { interval: `${probe?.periodSeconds ?? 10}s`, timeout: "3s", retries: 5, startPeriod: `${probe?.initialDelaySeconds ?? 5}s` };
  if (spec.dockerHealthcheck) return { ...timing, tests: [...spec.dockerHealthcheck] };
  if (!probe) return undefined;
  if ("http" in probe) return { ...timing, tests: ["CMD", "wget", "-q", "--spider", `http://127.0.0.1:${probe.http.port}${probe.http.path}`] };
  if ("tcp" in probe) return { ...timing, tests: ["CMD", "nc", "-z", "127.0.0.1", String(probe.tcp.port)] };
  return { ...timing, tests: ["CMD", ...probe.exec.command] };
}
