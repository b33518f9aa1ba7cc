/**
 * Local mode: API and worker in one process on embedded defaults (PGlite, in-process
 * coordination, the local LLM provider, the local sandbox driver) unless the env says otherwise.
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig, type RuntimeConfig } from "../config";
import type { Worker } from "../engine/worker";
import { startApi, type RunningApi } from "./apex-api";
import { createWorker } from "./apex-worker";
import { openRuntime, type Runtime } from "./runtime";

/** Where apex-local leaves the admin key for `npm run demo` (mode 0600). */
export const localAdminKeyFile = path.join(os.tmpdir(), "apex-local", "admin.key");

export interface LocalRuntime {
  readonly runtime: Runtime;
  readonly api: RunningApi;
  readonly worker: Worker;
  /** The admin key: APEX_BOOTSTRAP_ADMIN_KEY, or the one generated at this start. */
  readonly adminKey?: string;
  close(graceMs?: number): Promise<void>;
}

export interface StartLocalOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Override config (tests pass ports 0). */
  readonly overrides?: Partial<RuntimeConfig>;
  /** PGlite data directory; default in-memory. */
  readonly dataDir?: string;
  /** Where to write the admin key; null: do not write it. */
  readonly adminKeyFile?: string | null;
  readonly host?: string;
  readonly redisKeyPrefix?: string;
}

export async function startLocal(options: StartLocalOptions = {}): Promise<LocalRuntime> {
  const config: RuntimeConfig = { ...loadConfig(options.env ?? process.env), ...options.overrides };
  const runtime = await openRuntime(config, { pgliteDataDir: options.dataDir, redisKeyPrefix: options.redisKeyPrefix });
  const api = await startApi(runtime, { http: config.httpPort, grpc: config.grpcPort }, options.host ?? "127.0.0.1");
  const worker = createWorker(runtime);
  await worker.start();
  const adminKey = api.generatedAdminKey ?? config.bootstrapAdminKey;
  const keyFile = options.adminKeyFile === undefined ? localAdminKeyFile : options.adminKeyFile;
  if (api.generatedAdminKey && keyFile) {
    await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    await writeFile(keyFile, `${api.generatedAdminKey}\n`, { mode: 0o600 });
  }
  return {
    runtime,
    api,
    worker,
    adminKey,
    async close(graceMs = 10_000) {
      await worker.stop(graceMs);
      await api.close();
      await runtime.close();
    },
  };
}
