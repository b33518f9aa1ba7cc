/**
 * Alertmanager. Its config holds receiver URLs/keys, so it is never a ConfigMap or a plain upload:
 * it lives in a Secret (Kubernetes) / the secret env of the container (Docker, encrypted in state),
 * arrives as $ALERTMANAGER_CONFIG and is written to a memory-backed tmpfs at start.
 */
import { services } from "../../app/src/contract/services";
import type { SecretRef, ServiceSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export const alertmanagerConfigEnv = "ALERTMANAGER_CONFIG";
const configFile = "/run/alertmanager/alertmanager.yml";

export function alertmanagerSpec(args: { readonly image: string; readonly config: SecretRef; readonly storageSize: string; readonly publishPort: boolean }): ServiceSpec {
  const a = services.alertmanager;
  const start = [
    `printf '%s' "$${alertmanagerConfigEnv}" > ${configFile}`,
    `exec /bin/alertmanager --config.file=${configFile} --storage.path=/alertmanager --web.listen-address=:${a.port} --cluster.listen-address=`,
  ].join(" && ");
  return {
    name: a.name,
    component: "monitoring",
    image: args.image,
    command: ["/bin/sh", "-c"],
    args: [start],
    ports: [{ name: "http", port: a.port, appProtocol: "http", metrics: true, ...(args.publishPort ? { hostPort: a.port } : {}) }],
    env: goMemoryLimitEnv(observabilityResources.alertmanager),
    secretEnv: { [alertmanagerConfigEnv]: args.config },
    resources: observabilityResources.alertmanager,
    probes: {
      readiness: { http: { path: "/-/ready", port: a.port } },
      liveness: { http: { path: "/-/healthy", port: a.port }, initialDelaySeconds: 15 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: 65534, gid: 65534 },
    volumes: [
      // Silences and the notification log survive restarts.
      { kind: "data", name: "data", mountPath: "/alertmanager", size: args.storageSize },
      { kind: "tmp", name: "run", mountPath: "/run/alertmanager", sizeLimit: "1Mi", memory: true },
    ],
  };
}
