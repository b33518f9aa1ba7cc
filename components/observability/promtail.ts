/**
 * Docker (dev) log shipper: one promtail container reading the stack's container logs through the
 * engine socket (bind-mounted read-only; its group from `apex:docker.socketGid`). Kubernetes uses
 * Alloy instead (alloy.ts): no hostPath or root there.
 */
import { createHash } from "node:crypto";
import { services } from "../../app/src/contract/services";
import type { ServiceSpec } from "../service";
import { promtailDockerConfigYaml, promtailHttpPort } from "./promtail-config";
import { configChecksumEnv, goMemoryLimitEnv, observabilityResources } from "./sizing";

export const promtailName = "promtail";
const DOCKER_SOCKET = "/var/run/docker.sock";
const checksum = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

export function promtailDockerSpec(args: { readonly image: string; readonly lokiPushUrl: string; readonly stackInstance: string; readonly dockerSocketGid: number }): ServiceSpec {
  const config = promtailDockerConfigYaml({ lokiPushUrl: args.lokiPushUrl, stackInstance: args.stackInstance });
  return {
    name: promtailName,
    component: "logging",
    image: args.image,
    args: ["-config.file=/etc/promtail/config/promtail.yml"],
    ports: [{ name: "http", port: promtailHttpPort, appProtocol: "http", metrics: true }],
    env: { ...goMemoryLimitEnv(observabilityResources.promtail), [configChecksumEnv]: checksum(config) },
    resources: observabilityResources.promtail,
    scaling: { replicas: 1 },
    dependsOn: [services.loki.name],
    user: { uid: 10001, gid: 10001 },
    supplementalGroups: [args.dockerSocketGid],
    volumes: [
      { kind: "hostPath", name: "docker-socket", hostPath: DOCKER_SOCKET, mountPath: DOCKER_SOCKET, readOnly: true },
      { kind: "config", name: "config", mountPath: "/etc/promtail/config", files: { "promtail.yml": config } },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "32Mi" },
    ],
  };
}
