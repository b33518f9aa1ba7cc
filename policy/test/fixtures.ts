import type { PlainResource } from "../lib/resource";

/* eslint-disable @typescript-eslint/no-explicit-any -- fixtures are raw Kubernetes JSON. */
type Json = Record<string, any>;

export const hardenedContainer = (overrides: Json = {}): Json => ({
  name: "app",
  image: `registry.example.com/apex/api:0.1.0@sha256:${"0a1b2c3d".repeat(8)}`,
  resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 1000,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  },
  readinessProbe: { httpGet: { path: "/readyz", port: 8080 } },
  livenessProbe: { httpGet: { path: "/healthz", port: 8080 } },
  env: [{ name: "LOG_LEVEL", value: "info" }, { name: "OPENAI_API_KEY", valueFrom: { secretKeyRef: { name: "apex-secrets", key: "OPENAI_API_KEY" } } }],
  ...overrides,
});

export const labels = { "app.kubernetes.io/name": "apex-api", "app.kubernetes.io/part-of": "apex", "app.kubernetes.io/managed-by": "pulumi" };

export function deployment(name: string, opts: { container?: Json; pod?: Json; spec?: Json; namespace?: string } = {}): PlainResource {
  return {
    type: "kubernetes:apps/v1:Deployment",
    name,
    urn: `urn:pulumi:prod::apex::kubernetes:apps/v1:Deployment::${name}`,
    props: {
      metadata: { name, namespace: opts.namespace ?? "apex", labels },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name, ...labels } },
          spec: {
            securityContext: { seccompProfile: { type: "RuntimeDefault" }, runAsNonRoot: true },
            containers: [opts.container ?? hardenedContainer()],
            ...opts.pod,
          },
        },
        ...opts.spec,
      },
    },
  };
}

export const hardenedDockerContainer = (overrides: Json = {}): PlainResource => ({
  type: "docker:index/container:Container",
  name: "apex-api",
  props: {
    name: "apex-api",
    image: "apex-api:dev",
    user: "1000:1000",
    readOnly: true,
    memory: 2048,
    cpus: "2",
    capabilities: { drops: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    envs: ["LOG_LEVEL=info"],
    ...overrides,
  },
});

export const resource = (type: string, name: string, props: Json): PlainResource => ({ type, name, urn: `urn:pulumi:prod::apex::${type}::${name}`, props });
