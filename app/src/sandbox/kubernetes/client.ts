import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { SandboxError } from "../errors";

/**
 * A small Kubernetes API client for the sandbox driver: JSON requests and watch streams over
 * http(s), authenticated by bearer token or client certificate, from the in-cluster service
 * account or a kubeconfig file.
 */
export interface KubeConnection {
  readonly server: string;
  readonly token?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify?: boolean;
  /** Namespace from the service account or the kubeconfig context, if any. */
  readonly namespace?: string;
}

export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod's own service account (token, CA, namespace) and KUBERNETES_SERVICE_HOST/PORT. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = serviceAccountDir): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new SandboxError("kubernetes sandbox: KUBERNETES_SERVICE_HOST is not set (not running in a cluster?)");
  const read = (f: string): Buffer => {
    try {
      return readFileSync(`${dir}/${f}`);
    } catch (err) {
      throw new SandboxError(`kubernetes sandbox: cannot read the service account's ${f} in ${dir}: ${(err as Error).message}`);
    }
  };
  let namespace: string | undefined;
  try {
    namespace = readFileSync(`${dir}/namespace`, "utf8").trim();
  } catch {
    namespace = undefined;
  }
  const h = host.includes(":") ? `[${host}]` : host;
  return { server: `https://${h}:${port}`, token: read("token").toString("utf8").trim(), ca: read("ca.crt"), ...(namespace ? { namespace } : {}) };
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/** A kubeconfig's context (default its current-context). Exec/auth-provider plugins are not supported. */
export function kubeconfigConnection(path: string, contextName?: string): KubeConnection {
  let cfg: KubeconfigFile;
  try {
    cfg = parseYaml(readFileSync(path, "utf8")) as KubeconfigFile;
  } catch (err) {
    throw new SandboxError(`kubernetes sandbox: cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  const name = contextName ?? cfg["current-context"];
  const ctx = cfg.contexts?.find((c) => c.name === name)?.context;
  if (!ctx) throw new SandboxError(`kubernetes sandbox: kubeconfig ${path} has no context "${name ?? ""}" (contexts[].name)`);
  const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new SandboxError(`kubernetes sandbox: kubeconfig ${path} has no cluster "${ctx.cluster}" (clusters[].name)`);
  const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const base = dirname(path);
  const material = (obj: Record<string, unknown>, dataKey: string, fileKey: string): Buffer | undefined => {
    const data = obj[dataKey];
    if (typeof data === "string") return Buffer.from(data, "base64");
    const file = obj[fileKey];
    if (typeof file === "string") return readFileSync(isAbsolute(file) ? file : resolve(base, file));
    return undefined;
  };
  if (user.exec || user["auth-provider"]) {
    throw new SandboxError(`kubernetes sandbox: kubeconfig user "${ctx.user}" uses an exec/auth-provider plugin; use a token or client certificate`);
  }
  const server = cluster.server;
  if (typeof server !== "string") throw new SandboxError(`kubernetes sandbox: kubeconfig cluster "${ctx.cluster}" has no server`);
  const tokenFile = user.tokenFile;
  const token = typeof user.token === "string" ? user.token : typeof tokenFile === "string" ? readFileSync(tokenFile, "utf8").trim() : undefined;
  const ca = material(cluster, "certificate-authority-data", "certificate-authority");
  const cert = material(user, "client-certificate-data", "client-certificate");
  const key = material(user, "client-key-data", "client-key");
  return {
    server,
    ...(token ? { token } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(cluster["insecure-skip-tls-verify"] === true ? { insecureSkipTlsVerify: true } : {}),
    ...(ctx.namespace ? { namespace: ctx.namespace } : {}),
  };
}

export class KubeApiError extends SandboxError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    super(`kubernetes sandbox: ${method} ${path} failed with HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = "KubeApiError";
  }
}

export class KubeClient {
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(private readonly conn: KubeConnection) {
    this.url = new URL(conn.server);
    this.agent =
      this.url.protocol === "https:"
        ? new https.Agent({
            keepAlive: true,
            ...(conn.ca ? { ca: conn.ca } : {}),
            ...(conn.cert ? { cert: conn.cert } : {}),
            ...(conn.key ? { key: conn.key } : {}),
            rejectUnauthorized: conn.insecureSkipTlsVerify !== true,
          })
        : new http.Agent({ keepAlive: true });
  }

  private open(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const mod = this.url.protocol === "https:" ? https : http;
    return new Promise((resolvePromise, reject) => {
      const req = mod.request(
        new URL(path, this.url),
        {
          method,
          agent: this.agent,
          headers: {
            accept: "application/json",
            ...(this.conn.token ? { authorization: `Bearer ${this.conn.token}` } : {}),
            ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        resolvePromise,
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** A JSON request; non-2xx responses throw KubeApiError with the status. */
  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.open(method, path, body, signal);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw new KubeApiError(res.statusCode ?? 0, method, path, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Plain-text body (pod logs); callers bound the size with `limitBytes`. */
  async text(path: string, signal?: AbortSignal): Promise<string> {
    const res = await this.open("GET", path, undefined, signal);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if ((res.statusCode ?? 0) >= 300) throw new KubeApiError(res.statusCode ?? 0, "GET", path, text);
    return text;
  }

  /** A watch: yields each event object of the newline-delimited JSON stream until it ends. */
  async *watch<T>(path: string, signal?: AbortSignal): AsyncGenerator<{ type: string; object: T }> {
    const res = await this.open("GET", path, undefined, signal);
    if ((res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw new KubeApiError(res.statusCode ?? 0, "GET", path, Buffer.concat(chunks).toString("utf8"));
    }
    let buf = "";
    for await (const chunk of res) {
      buf += (chunk as Buffer).toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as { type: string; object: T };
      }
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
