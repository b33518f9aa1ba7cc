/**
 * What `npm start` prints once it listens: the console first, where everything else is, the admin
 * key, and a `Try:` demo command that reaches this very instance (its data dir, or its URL when not
 * on the default port). Without a built console it says how to build one.
 */
import { runtimeEnv } from "../contract/env";
import { services } from "../contract/services";
import type { LocalRuntime } from "./local";
import { displayUserPath } from "./user-path";

/** The `npm run demo` command line that finds this instance. */
export function demoCommand(local: LocalRuntime, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  if (local.instanceFile && local.dataDir) return `npm run demo -- --data-dir ${shellWord(displayUserPath(local.dataDir, env, cwd))}`;
  if (local.instanceFile && local.api.httpPort === services.api.httpPort) return "npm run demo";
  return `npm run demo -- --url ${local.url}`;
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

export function localBanner(local: LocalRuntime, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const { api, runtime } = local;
  const url = local.url;
  const store = runtime.config.databaseUrl ? `Postgres (${runtimeEnv.databaseUrl})` : local.dataDir ? `PGlite at ${local.dataDir}` : "PGlite in memory";
  const [apiMetrics, ...extraMetrics] = local.metricsUrls;
  const adminKey = api.generatedAdminKey
    ? [`  Admin key  ${api.generatedAdminKey}`, `             (shown once${local.instanceFile ? "; saved in the instance file for npm run demo" : ""})`]
    : runtime.config.bootstrapAdminKey
      ? [`  Admin key  the value of ${runtimeEnv.bootstrapAdminKey}`]
      : local.adminKey && local.instanceFile
        ? [`  Admin key  generated at the first start of this data dir, saved in the instance file`]
        : [`  Admin key  the key printed at the first start of this database (or set ${runtimeEnv.bootstrapAdminKey})`];
  const instance = local.instanceFile
    ? [`  Instance   ${local.instanceFile}`, `             (URLs, pid, admin key; ${local.dataDir ? "kept with the data dir" : "removed at shutdown"})`]
    : [];
  const consoleLines = local.consoleUrl
    ? [`  Console    ${local.consoleUrl}   (sign in with the admin key)`]
    : [`  Console    not built (no index.html in ${local.consoleDir}): run \`npm run build -w console\`, then restart`];
  const lines = [
    "",
    "Apex is running (local mode)",
    ...consoleLines,
    `  HTTP API   ${url}   (OpenAPI: ${url}/openapi.json)`,
    `  gRPC API   ${local.grpcAddress}`,
    `  Metrics    ${apiMetrics}${extraMetrics.map((m) => `, ${m} (${runtimeEnv.metricsPort})`).join("")}`,
    `  Store      ${store}`,
    `  Worker     ${local.worker.id}, ${local.worker.concurrency} slots`,
    ...adminKey,
    ...instance,
    `  Logs       warnings and task events here; one line per HTTP request with ${runtimeEnv.logLevel}=debug`,
    ...local.notes.map((n) => `  Note       ${n}`),
    "",
    `Try:  ${demoCommand(local, env, cwd)}`,
    `      curl -H "Authorization: Bearer <admin key>" ${url}/v1/agents`,
    "",
  ];
  return lines.join("\n") + "\n";
}
