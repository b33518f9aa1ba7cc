#!/usr/bin/env node
/**
 * apex-worker: claims and runs tasks. Config from env (contract/env.ts). Serves /metrics, /healthz
 * and /readyz on APEX_METRICS_PORT. SIGTERM: stop claiming (/readyz turns 503, /healthz stays 200
 * so the liveness probe lets the drain run), let in-flight tasks finish within
 * APEX_WORKER_SHUTDOWN_GRACE_MS, which is never shorter than an LLM call (APEX_LLM_TIMEOUT_MS plus a
 * margin: contract/worker-drain.ts), release the rest (back to ready, attempt not spent), exit.
 */
// First: instruments http, fastify, grpc, pg and ioredis before anything below requires them.
import "../telemetry/register";
import { describeConfig, loadConfig } from "../config";
import { services } from "../contract/services";
import { Worker } from "../engine/worker";
import { clusterSnapshotQuery, newAgentsQuery } from "../telemetry/cluster-gauges";
import { logger } from "../telemetry/logger";
import { registerClusterGauges, trackAgentSeries, unregisterClusterGauges, untrackAgentSeries } from "../telemetry/metrics";
import { startTracing } from "../telemetry/tracing";
import { startMetricsServer } from "./metrics-server";
import { openRuntime, type Runtime } from "./runtime";
import { onShutdownSignal } from "./signals";

export function createWorker(rt: Runtime): Worker {
  return new Worker(
    { db: rt.db, events: rt.coordination.events, llm: rt.llm, tools: rt.tools, sandbox: rt.sandbox() },
    { concurrency: rt.config.workerConcurrency, leaseMs: rt.config.leaseMs, approvalTtlMs: rt.config.approvalTtlMs },
  );
}

async function main(): Promise<void> {
  const config = loadConfig();
  const tracing = startTracing({ serviceName: config.serviceName ?? services.worker.name, endpoint: config.otlpEndpoint ?? null });
  logger.info({ config: describeConfig(config) }, `${services.worker.name} starting`);
  const rt = await openRuntime(config, { runs: "worker" });
  registerClusterGauges(clusterSnapshotQuery(rt.db), (err) =>
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, "cluster gauge query failed"),
  );
  // Every agent's cost series starts at 0 here, those created later at the next scrape.
  await trackAgentSeries(newAgentsQuery(rt.db), (err) =>
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, "agent series query failed"),
  );
  const worker = createWorker(rt);
  let stopping = false;
  // The worker neither waits for nor dies of its metrics port (the previous process may still hold it).
  const stopBinding = new AbortController();
  const metrics = startMetricsServer(config.metricsPort, () => true, undefined, { signal: stopBinding.signal, ready: () => !stopping }).then(
    (server) => {
      logger.info({ metrics_port: server.port }, "metrics server listening");
      return server;
    },
    (err: Error) => {
      logger.error({ err: err.message }, "metrics server not started; this worker runs without /metrics and /healthz");
      return undefined;
    },
  );
  await worker.start();
  logger.info({ worker_id: worker.id, metrics_port: config.metricsPort }, `${services.worker.name} running`);
  onShutdownSignal(async () => {
    stopping = true;
    stopBinding.abort();
    logger.info({ grace_ms: config.workerShutdownGraceMs }, "draining: no new claims; in-flight tasks finish within the grace period");
    await worker.stop(config.workerShutdownGraceMs);
    unregisterClusterGauges();
    untrackAgentSeries();
    await (await metrics)?.close();
    await rt.close();
    await tracing.shutdown();
  });
}

if (require.main === module) {
  main().catch((err: Error) => {
    logger.fatal({ err: err.message }, `${services.worker.name} failed to start`);
    process.exit(1);
  });
}
