import type * as pulumi from "@pulumi/pulumi";
import { DockerService } from "./docker";
import { KubernetesService } from "./kubernetes";
import type { ServiceSpec } from "./model";
import type { Platform } from "./platform";

export * from "./model";
export type { Platform, DockerPlatform, KubernetesPlatform } from "./platform";
export { DockerService } from "./docker";
export { KubernetesService } from "./kubernetes";
export { selectorLabels, serviceLabels, stackLabels } from "./labels";

/** What callers get back from `deployService`, whichever the target. */
export interface DeployedService {
  readonly spec: ServiceSpec;
  /** DNS name other services reach it by (Docker network alias / Kubernetes Service name). */
  readonly host: string;
  /** The component, for `dependsOn` and `parent`. */
  readonly resource: DockerService | KubernetesService;
  /** The component's logical name: children parented to it derive theirs from it. */
  readonly resourceName: string;
  /** `host:port` of a named port. */
  endpoint(portName: string): string;
}

/**
 * Renders one ServiceSpec on the stack's target. `name` is the Pulumi logical name (child names
 * derive from it). Resolves `spec.dependsOn` against services deployed earlier through the same
 * platform, and registers this one for later dependants.
 */
export function deployService(
  name: string,
  spec: ServiceSpec,
  platform: Platform,
  opts?: pulumi.ComponentResourceOptions,
): DeployedService {
  if (platform.deployed.has(spec.name)) throw new Error(`service ${spec.name} is deployed twice`);
  const resource = platform.target === "docker"
    ? new DockerService(name, { spec, platform }, opts)
    : new KubernetesService(name, { spec, platform }, opts);
  platform.deployed.set(spec.name, resource);
  return {
    spec,
    host: resource.host,
    resource,
    resourceName: name,
    endpoint(portName) {
      const port = spec.ports.find((p) => p.name === portName);
      if (!port) throw new Error(`${spec.name} has no port named "${portName}" (has: ${spec.ports.map((p) => p.name).join(", ")})`);
      return `${resource.host}:${port.port}`;
    },
  };
}
