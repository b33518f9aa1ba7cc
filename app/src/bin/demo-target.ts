/**
 * Which Apex `npm run demo` talks to, and with which key.
 *
 * URL: --url, else APEX_HTTP_PORT (http://localhost:<port>), else the instance file of
 * --data-dir, else the instance file of the default port (8080), else http://localhost:8080.
 * Key: APEX_API_KEY, else APEX_BOOTSTRAP_ADMIN_KEY, else the admin key in the instance file: the
 * data dir's, or the per-port one of the port being called (only for a loopback URL, so a local
 * key never goes to another host). A per-port file whose pid has exited is stale and ignored.
 * Each choice says where it came from, for the error messages.
 */
import { runtimeEnv } from "../contract/env";
import { services } from "../contract/services";
import { instanceFilePath, isProcessAlive, readInstanceFile, type InstanceRecord } from "./instance-file";
import { resolveUserPath } from "./user-path";

export interface DemoTargetArgs {
  readonly url?: string;
  /** As typed: relative to the user's directory (INIT_CWD). */
  readonly dataDir?: string;
}

export interface DemoTarget {
  readonly baseUrl: string;
  /** Where the URL came from, e.g. "--url", "APEX_HTTP_PORT=8099", "/data/apex-instance.json". */
  readonly urlFrom: string;
  readonly apiKey?: string;
  /** Who holds the key, said when the demo approves with it ("admin"). */
  readonly keyHolder: string;
  readonly keyFrom?: string;
  /** The instance file path the demo looked for (none for a --url to another host). */
  readonly lookedAt?: string;
  /** The instance file consulted, if any, and whether the process that wrote it still runs. */
  readonly instance?: { readonly file: string; readonly record: InstanceRecord; readonly running: boolean };
  /** Things to tell the user (stale file ignored). */
  readonly notes: readonly string[];
}

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);

function parsePort(raw: string, name: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65_535) throw new Error(`${name}: expected a port number, got "${raw}"`);
  return port;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url: expected a URL such as http://localhost:${services.api.httpPort}, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`--url: expected an http(s) URL, got "${raw}"`);
  return url;
}

export async function resolveDemoTarget(args: DemoTargetArgs, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<DemoTarget> {
  const notes: string[] = [];
  const envPort = env[runtimeEnv.httpPort]?.trim() ? parsePort(env[runtimeEnv.httpPort]!, runtimeEnv.httpPort) : undefined;
  const explicitUrl = args.url === undefined ? undefined : parseUrl(args.url);

  // The instance file to read: the data dir's, else the per-port one of the port being called.
  let file: string | undefined;
  if (args.dataDir !== undefined) {
    file = instanceFilePath({ dataDir: resolveUserPath(args.dataDir, env, cwd), httpPort: 0 });
  } else {
    const urlPort = explicitUrl && loopbackHosts.has(explicitUrl.hostname) ? Number(explicitUrl.port || (explicitUrl.protocol === "https:" ? 443 : 80)) : undefined;
    const port = explicitUrl ? urlPort : (envPort ?? services.api.httpPort);
    file = port === undefined ? undefined : instanceFilePath({ httpPort: port });
  }
  let instance: DemoTarget["instance"];
  const record = file === undefined ? undefined : await readInstanceFile(file);
  if (file !== undefined && record) {
    const running = isProcessAlive(record.pid);
    if (!running && record.dataDir === undefined) {
      notes.push(`ignoring ${file}: left by pid ${record.pid}, which has exited`);
    } else {
      instance = { file, record, running };
    }
  } else if (args.dataDir !== undefined && !explicitUrl && envPort === undefined) {
    const dir = resolveUserPath(args.dataDir, env, cwd);
    throw new Error(`no Apex instance file in ${dir} (looked for ${file}): start Apex with npm start -- --data-dir ${dir}`);
  }

  const [baseUrl, urlFrom] = explicitUrl
    ? [explicitUrl.href.replace(/\/$/, ""), "--url"]
    : envPort !== undefined
      ? [`http://localhost:${envPort}`, `${runtimeEnv.httpPort}=${envPort}`]
      : instance
        ? [instance.record.url, instance.file]
        : [`http://localhost:${services.api.httpPort}`, `the default port; no running instance file at ${file}`];

  const key: Pick<DemoTarget, "apiKey" | "keyHolder" | "keyFrom"> = env.APEX_API_KEY
    ? { apiKey: env.APEX_API_KEY, keyHolder: "the APEX_API_KEY holder", keyFrom: "APEX_API_KEY" }
    : env[runtimeEnv.bootstrapAdminKey]
      ? { apiKey: env[runtimeEnv.bootstrapAdminKey], keyHolder: "admin", keyFrom: runtimeEnv.bootstrapAdminKey }
      : instance?.record.adminKey
        ? { apiKey: instance.record.adminKey, keyHolder: "admin", keyFrom: instance.file }
        : { keyHolder: "admin" };
  return { baseUrl, urlFrom, ...key, lookedAt: file, instance, notes };
}
