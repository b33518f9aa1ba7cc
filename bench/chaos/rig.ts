/**
 * Everything the chaos run starts, on loopback only: its own Postgres cluster (reached by Apex
 * through a TCP proxy that can blackhole it), its own redis-server, the fake LLM provider, the
 * real apex-api and two real apex-worker processes. `teardown()` undoes all of it; `teardownNow()` is
 * the synchronous last resort of an exit path.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Client, Pool } from "pg";
import { runtimeEnv } from "../../app/src/contract/env";
import { services } from "../../app/src/contract/services";
import { LocalSandboxDriver } from "../../app/src/sandbox/local/driver";
import { startPrivatePostgres, type PrivatePostgres } from "../../app/test/helpers/private-postgres";
import { killAllChildren } from "../engine/child-processes";
import { ChaosApi, HttpTally } from "./http-client";
import { SupervisedProcess, type UnexpectedExit } from "./processes";
import { startTcpProxy, type TcpProxy } from "../../app/test/helpers/tcp-proxy";
import { ChaosProvider } from "./provider";
import { startChaosRedis, type ChaosRedis } from "./redis-server";
import { freePort } from "./wait";

/** Short lease: a SIGKILLed worker's tasks are reclaimed within seconds. */
const leaseMs = 5_000;
const workerConcurrency = 8;
/** A short cooldown so the provider faults recover within the run (the default is 30 s). */
const breaker = { failureThreshold: 5, cooldownMs: 5_000, probeLeaseMs: 30_000 };

export interface RigLog {
  (line: string): void;
}

/** The caller's environment without any variable the runtime reads (the rig sets those). */
function baseEnv(): NodeJS.ProcessEnv {
  const runtimeNames = new Set<string>(Object.values(runtimeEnv));
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !runtimeNames.has(k) && !k.startsWith("APEX_") && !k.startsWith("OTEL_")));
}

/** `required` when bubblewrap and cgroups work here; otherwise the run has no code-running tool task (never unsandboxed). */
function sandboxHardening(): "required" | undefined {
  try {
    new LocalSandboxDriver({ hardened: "required" });
    return "required";
  } catch {
    return undefined;
  }
}

export class ChaosRig {
  readonly tally = new HttpTally();
  readonly exits: UnexpectedExit[] = [];
  readonly adminKey = `apex_chaos_${randomBytes(18).toString("hex")}`;
  api!: SupervisedProcess;
  workers: SupervisedProcess[] = [];
  postgres?: PrivatePostgres;
  proxy?: TcpProxy;
  redis?: ChaosRedis;
  provider?: ChaosProvider;
  /** Direct to the cluster (not through the proxy): what the run reads to measure. */
  observer?: Pool;
  client!: ChaosApi;
  /** `required`, or undefined when no python tasks run. */
  sandbox?: "required";

  constructor(
    private readonly runDir: string,
    private readonly appDir: string,
    private readonly log: RigLog,
  ) {}

  async start(): Promise<void> {
    this.postgres = await startPrivatePostgres();
    const database = "apex_chaos";
    const admin = new Client({ connectionString: this.postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const direct = new URL(this.postgres.url);
    direct.pathname = `/${database}`;
    this.observer = new Pool({ connectionString: direct.toString(), max: 3, connectionTimeoutMillis: 3_000 });
    this.observer.on("error", () => undefined); // server-side terminations during the restarts
    this.proxy = await startTcpProxy("127.0.0.1", this.postgres.port);
    const viaProxy = new URL(direct);
    viaProxy.port = String(this.proxy.port);
    this.redis = await startChaosRedis(path.join(this.runDir, "redis.log"));
    this.provider = await ChaosProvider.start();
    this.sandbox = sandboxHardening();
    const httpPort = await freePort();
    this.log(
      `  postgres 127.0.0.1:${this.postgres.port} (apex through a proxy on ${this.proxy.port}), redis ${this.redis.url}, fake LLM ${this.provider.openaiBaseUrl}, ` +
        `sandbox ${this.sandbox ? "local, APEX_SANDBOX_HARDENED=required" : "unavailable here: no python tasks"}`,
    );

    const env: NodeJS.ProcessEnv = {
      ...baseEnv(),
      [runtimeEnv.databaseUrl]: viaProxy.toString(),
      [runtimeEnv.redisUrl]: this.redis.url,
      [runtimeEnv.httpPort]: String(httpPort),
      [runtimeEnv.grpcPort]: "0",
      [runtimeEnv.metricsPort]: "0",
      [runtimeEnv.bootstrapAdminKey]: this.adminKey,
      [runtimeEnv.leaseMs]: String(leaseMs),
      [runtimeEnv.workerConcurrency]: String(workerConcurrency),
      [runtimeEnv.llmBreaker]: JSON.stringify(breaker),
      [runtimeEnv.openaiApiKey]: "sk-chaos",
      [runtimeEnv.openaiBaseUrl]: this.provider.openaiBaseUrl,
      [runtimeEnv.anthropicApiKey]: "sk-ant-chaos",
      [runtimeEnv.anthropicBaseUrl]: this.provider.anthropicBaseUrl,
      [runtimeEnv.sandboxDriver]: "local",
      [runtimeEnv.sandboxHardened]: this.sandbox ?? "off",
      [runtimeEnv.logLevel]: "info",
    };
    const onExit = (e: UnexpectedExit) => {
      this.exits.push(e);
      this.log(`  !! ${e.name} exited unexpectedly (${e.how}); restarting it. Log tail:\n${e.logTail.replace(/^/gm, "     ")}`);
    };
    const spec = (name: string, bin: string, readyMessage: string) => ({
      name,
      script: path.join(this.appDir, `src/bin/${bin}.ts`),
      cwd: this.appDir,
      env,
      readyMessage,
      logFile: (generation: number) => path.join(this.runDir, `${name}-${generation}.log`),
    });
    this.api = new SupervisedProcess(spec(services.api.name, "apex-api", `${services.api.name} listening`), onExit);
    this.workers = [1, 2].map(
      (i) => new SupervisedProcess(spec(`${services.worker.name}-${i}`, "apex-worker", `${services.worker.name} running`), onExit),
    );
    // The API migrates first; the workers start once the schema is there.
    await this.api.start(1);
    await Promise.all(this.workers.map((w) => w.start(1)));
    this.client = new ChaosApi(`http://127.0.0.1:${httpPort}`, this.tally);
  }

  /** Stops everything the rig started, in reverse order; never throws. */
  async teardown(): Promise<void> {
    const quietly = async (f: () => Promise<unknown> | undefined) => {
      try {
        await f();
      } catch {
        // best effort: teardownNow() follows on exit
      }
    };
    await Promise.all([...this.workers, this.api].filter(Boolean).map((p) => quietly(() => p.stop())));
    await quietly(() => this.observer?.end());
    await quietly(() => this.provider?.close());
    await quietly(() => this.proxy?.close());
    await quietly(() => this.redis?.stop());
    await quietly(() => this.postgres?.destroy());
    this.postgres = undefined;
  }

  /** Synchronous: SIGKILL every process group, an immediate shutdown of Postgres, its directory removed. */
  teardownNow(): void {
    killAllChildren();
    this.redis?.killNow();
    const pg = this.postgres;
    if (!pg) return;
    try {
      const pid = Number(readFileSync(path.join(pg.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (pid > 0) process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch {
      // not running
    }
    rmSync(path.dirname(pg.dataDir), { recursive: true, force: true });
  }
}
