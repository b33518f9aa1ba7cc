/**
 * Local mode: API and worker in one process on embedded defaults (PGlite, in-process
 * coordination, the local LLM provider, the local sandbox driver) unless the env says otherwise.
 * Writes the instance file (instance-file.ts) through which `npm run demo` finds it. Serves the
 * built operator console (console/dist) on the API's origin when there is one.
 */
import path from "node:path";
import { isConsoleBuilt } from "../api/http/console-files";
import { loadConfig, type RuntimeConfig } from "../config";
import { runtimeEnv } from "../contract/env";
import { httpPaths } from "../contract/services";
import type { Worker } from "../engine/worker";
import { clusterSnapshotQuery, newAgentsQuery } from "../telemetry/cluster-gauges";
import { logger } from "../telemetry/logger";
import { registerClusterGauges, trackAgentSeries, unregisterClusterGauges, untrackAgentSeries } from "../telemetry/metrics";
import { startApi, type RunningApi } from "./apex-api";
import { createWorker } from "./apex-worker";
import { assertDataDirFree, prepareDataDir } from "./data-dir";
import { infoAsDebug } from "./info-as-debug-logger";
import { instanceFilePath, isPerProcess, isProcessAlive, readInstanceFile, removeInstanceFile, writeInstanceFile, type InstanceRecord } from "./instance-file";
import { startMetricsServer, type MetricsServer } from "./metrics-server";
import { openRuntime, type Runtime } from "./runtime";

export interface LocalRuntime {
  readonly runtime: Runtime;
  readonly api: RunningApi;
  readonly worker: Worker;
  /** The admin key: APEX_BOOTSTRAP_ADMIN_KEY, the one generated at this start, or the one this data dir's first start saved. */
  readonly adminKey?: string;
  /** Base URL of the HTTP API, e.g. http://localhost:8080. */
  readonly url: string;
  /** The operator console's page (the API's origin); unset when consoleDir holds no build. */
  readonly consoleUrl?: string;
  /** Absolute directory the console is served from, or was looked for in. */
  readonly consoleDir: string;
  /** host:port of the gRPC API. */
  readonly grpcAddress: string;
  /** /metrics on the API port, and on APEX_METRICS_PORT when that is set. */
  readonly metricsUrls: readonly string[];
  /** Absolute data dir; unset: in memory (or DATABASE_URL). */
  readonly dataDir?: string;
  /** Where the instance file is; unset when none was written. */
  readonly instanceFile?: string;
  /** Things the user should read in the banner (a stale instance file replaced, ...). */
  readonly notes: readonly string[];
  close(graceMs?: number): Promise<void>;
}

export interface StartLocalOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Override config (tests pass ports 0). */
  readonly overrides?: Partial<RuntimeConfig>;
  /** PGlite data directory (relative: to process.cwd()); default in-memory. */
  readonly dataDir?: string;
  /** Write the instance file for `npm run demo`; default true. */
  readonly instanceFile?: boolean;
  readonly host?: string;
  readonly redisKeyPrefix?: string;
  /** The built console to serve; default APEX_CONSOLE_DIR, else console/dist of this checkout. */
  readonly consoleDir?: string;
}

/** console/dist of the checkout this file is in (app/src/bin, or app/dist/bin once compiled). */
export const defaultConsoleDir = path.resolve(__dirname, "../../../console/dist");

/** How URLs of a listener on `host` are written for the user. */
function urlHost(host: string): string {
  return host === "127.0.0.1" || host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
}

export async function startLocal(options: StartLocalOptions = {}): Promise<LocalRuntime> {
  const env = options.env ?? process.env;
  const config: RuntimeConfig = { ...loadConfig(env), ...options.overrides };
  const host = options.host ?? "127.0.0.1";
  const writesInstanceFile = options.instanceFile ?? true;
  const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  if (dataDir) {
    await prepareDataDir(dataDir);
    if (writesInstanceFile) await assertDataDirFree(dataDir);
  }

  const consoleDir = path.resolve(options.consoleDir ?? (env[runtimeEnv.consoleDir]?.trim() || defaultConsoleDir));
  const consoleBuilt = isConsoleBuilt(consoleDir);

  const runtime = await openRuntime(config, { pgliteDataDir: dataDir, redisKeyPrefix: options.redisKeyPrefix });
  const api = await startApi(runtime, { http: config.httpPort, grpc: config.grpcPort }, host, {
    logger: infoAsDebug(logger),
    consoleDir: consoleBuilt ? consoleDir : undefined,
  });
  // Like apex-api and apex-worker: the cluster gauges and every agent's cost series, from the store.
  const warn = (what: string) => (err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, `${what} failed`);
  registerClusterGauges(clusterSnapshotQuery(runtime.db), warn("cluster gauge query"));
  await trackAgentSeries(newAgentsQuery(runtime.db), warn("agent series query"));
  const worker = createWorker(runtime);
  await worker.start();
  // The API serves /metrics on its port; APEX_METRICS_PORT, when set, serves it there too (as apex-worker does).
  let stopping = false;
  const metricsPortSet = (env[runtimeEnv.metricsPort] ?? "").trim() !== "";
  const metrics: MetricsServer | undefined = metricsPortSet ? await startMetricsServer(config.metricsPort, () => !stopping, host) : undefined;
  const base = `http://${urlHost(host)}`;
  const url = `${base}:${api.httpPort}`;
  const grpcAddress = `${urlHost(host)}:${api.grpcPort}`;
  const metricsUrls = [`${url}${httpPaths.metrics}`, ...(metrics ? [`${base}:${metrics.port}${httpPaths.metrics}`] : [])];

  const notes: string[] = [];
  let adminKey = api.generatedAdminKey ?? config.bootstrapAdminKey;
  let instanceFile: string | undefined;
  if (writesInstanceFile) {
    instanceFile = instanceFilePath({ dataDir, httpPort: api.httpPort });
    const previous = await readInstanceFile(instanceFile).catch((err: Error) => {
      notes.push(`replacing ${instanceFile}: ${err.message}`);
      return undefined;
    });
    if (previous && isPerProcess(instanceFile) && previous.pid !== process.pid) {
      notes.push(`replaced ${instanceFile}, left by pid ${previous.pid}${isProcessAlive(previous.pid) ? "" : ", which has exited"}`);
    }
    // A data dir's admin key is generated at its first start only: keep it for later demos.
    const savedKey = api.generatedAdminKey ?? (dataDir ? previous?.adminKey : undefined);
    adminKey ??= savedKey;
    const record: InstanceRecord = {
      url,
      grpc: grpcAddress,
      metricsUrl: metricsUrls[0]!,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ...(dataDir ? { dataDir } : {}),
      ...(savedKey ? { adminKey: savedKey } : {}),
    };
    await writeInstanceFile(instanceFile, record);
  }

  return {
    runtime,
    api,
    worker,
    adminKey,
    url,
    consoleUrl: consoleBuilt ? `${url}/` : undefined,
    consoleDir,
    grpcAddress,
    metricsUrls,
    dataDir,
    instanceFile,
    notes,
    async close(graceMs = 10_000) {
      stopping = true;
      await worker.stop(graceMs);
      await metrics?.close();
      await api.close();
      unregisterClusterGauges();
      untrackAgentSeries();
      await runtime.close();
      if (instanceFile && isPerProcess(instanceFile)) {
        // Only our own file: a later start on this port may have replaced it.
        const current = await readInstanceFile(instanceFile).catch(() => undefined);
        if (current?.pid === process.pid) await removeInstanceFile(instanceFile);
      }
    },
  };
}
