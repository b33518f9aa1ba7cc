/** Requests/limits of the observability services: small, fixed, documented in docs/observability.md. */
import type { ResourceSpec } from "../service";
import { memoryMiB } from "../service/quantity";

const r = (reqCpu: string, reqMem: string, limCpu: string, limMem: string): ResourceSpec => ({
  requests: { cpu: reqCpu, memory: reqMem },
  limits: { cpu: limCpu, memory: limMem },
});

export const observabilityResources = {
  jaeger: r("100m", "256Mi", "1", "1Gi"),
  prometheus: r("250m", "512Mi", "1", "2Gi"),
  alertmanager: r("50m", "64Mi", "250m", "256Mi"),
  postgresExporter: r("50m", "32Mi", "250m", "128Mi"),
  grafana: r("100m", "128Mi", "500m", "512Mi"),
  loki: r("100m", "256Mi", "1", "1Gi"),
  promtail: r("50m", "64Mi", "250m", "256Mi"),
} as const;

/** sha256 prefix of generated config, set as an env var so a config change rolls the pods. */
export const configChecksumEnv = "APEX_CONFIG_SHA256";

/**
 * GOMEMLIMIT at 90% of the container's memory limit. Every observability binary here is Go; without a
 * soft limit the GC lets the heap grow to twice the live set, so a container near its limit is
 * OOM-killed instead of collecting harder.
 */
export const goMemoryLimitEnv = (resources: ResourceSpec): Record<string, string> => ({
  GOMEMLIMIT: `${Math.floor(memoryMiB(resources.limits.memory) * 0.9)}MiB`,
});
