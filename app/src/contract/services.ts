/**
 * Service names and ports: the one place both halves read them from. The Pulumi components name
 * containers, Services and scrape targets with these; the runtime listens on these ports.
 */
export const services = {
  api: { name: "apex-api", httpPort: 8080, grpcPort: 50051 },
  worker: { name: "apex-worker", metricsPort: 9464 },
  /** The operator console (console/): static files and a /v1 proxy to apex-api; the seed's 3000, unprivileged. */
  dashboard: { name: "apex-dashboard", port: 3000 },
  postgres: { name: "postgres", port: 5432, database: "apex", user: "apex" },
  redis: { name: "redis", port: 6379 },
  jaeger: { name: "jaeger", otlpGrpcPort: 4317, otlpHttpPort: 4318, uiPort: 16686 },
  prometheus: { name: "prometheus", port: 9090 },
  alertmanager: { name: "alertmanager", port: 9093 },
  grafana: { name: "grafana", port: 3000, devHostPort: 3001 },
  loki: { name: "loki", port: 3100 },
  postgresExporter: { name: "postgres-exporter", port: 9187 },
  /** Kubernetes target only: object state of the stack namespace (metrics on `port`, its own on `telemetryPort`). */
  kubeStateMetrics: { name: "kube-state-metrics", port: 8080, telemetryPort: 8081 },
  vault: { name: "vault", port: 8200 },
} as const;

export type ServiceKey = keyof typeof services;

/** HTTP paths the runtime serves and the platform probes or scrapes. */
export const httpPaths = {
  health: "/healthz",
  ready: "/readyz",
  metrics: "/metrics",
} as const;
