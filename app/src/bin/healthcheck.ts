#!/usr/bin/env node
/**
 * The image's HEALTHCHECK: healthy when this container's API (APEX_HTTP_PORT) or worker metrics
 * server (APEX_METRICS_PORT) answers 200 on /healthz. One image serves both commands, so it
 * probes both; each process only listens on its own.
 */
import { runtimeEnv } from "../contract/env";
import { httpPaths, services } from "../contract/services";

const ports = [
  Number(process.env[runtimeEnv.httpPort] ?? services.api.httpPort),
  Number(process.env[runtimeEnv.metricsPort] ?? services.worker.metricsPort),
];

async function probe(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${httpPaths.health}`, { signal: AbortSignal.timeout(3_000) });
    return res.ok;
  } catch {
    return false;
  }
}

void Promise.all(ports.map(probe)).then((results) => process.exit(results.some(Boolean) ? 0 : 1));
