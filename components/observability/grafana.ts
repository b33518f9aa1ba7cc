/** Grafana 10 with a persistent database; the admin password comes from a secret. */
import { services } from "../../app/src/contract/services";
import type { SecretRef, ServiceSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export const grafanaAdminUser = "admin";

export function grafanaSpec(args: { readonly image: string; readonly adminPassword: SecretRef; readonly rootUrl: string; readonly storageSize: string; readonly publishPort: boolean }): ServiceSpec {
  const g = services.grafana;
  return {
    name: g.name,
    component: "dashboards",
    image: args.image,
    ports: [{ name: "http", port: g.port, appProtocol: "http", ...(args.publishPort ? { hostPort: g.devHostPort } : {}) }],
    env: {
      ...goMemoryLimitEnv(observabilityResources.grafana),
      GF_SERVER_HTTP_PORT: String(g.port),
      GF_SERVER_ROOT_URL: args.rootUrl,
      GF_PATHS_DATA: "/var/lib/grafana",
      GF_LOG_MODE: "console",
      GF_SECURITY_ADMIN_USER: grafanaAdminUser,
      GF_USERS_ALLOW_SIGN_UP: "false",
      GF_AUTH_ANONYMOUS_ENABLED: "false",
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
    },
    secretEnv: { GF_SECURITY_ADMIN_PASSWORD: args.adminPassword },
    resources: observabilityResources.grafana,
    probes: {
      readiness: { http: { path: "/api/health", port: g.port } },
      liveness: { http: { path: "/api/health", port: g.port }, initialDelaySeconds: 30 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: 472, gid: 472 },
    volumes: [
      { kind: "data", name: "data", mountPath: "/var/lib/grafana", size: args.storageSize },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
    ],
  };
}
