import http from "node:http";
import type { Duplex } from "node:stream";
import { SandboxError } from "../errors";

/**
 * A minimal Docker Engine API client over the engine's unix socket (node's http with
 * `socketPath`): JSON calls and the hijacked attach stream.
 */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (!host) return "/var/run/docker.sock";
  if (host.startsWith("unix://")) return host.slice("unix://".length);
  throw new SandboxError(`docker sandbox: DOCKER_HOST=${host} is not supported; use a unix:// socket`);
}

export class DockerApiError extends SandboxError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // Not JSON.
    }
    super(`docker sandbox: ${method} ${path} failed with HTTP ${status}: ${message.slice(0, 500)}`);
    this.name = "DockerApiError";
  }
}

export class DockerEngine {
  constructor(
    private readonly socketPath: string,
    /** API version prefix; v1.41 is Docker 20.10, which has every field the sandbox uses. */
    private readonly apiVersion = "v1.41",
  ) {}

  private path(p: string): string {
    return `/${this.apiVersion}${p}`;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: T }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const full = this.path(path);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path: full,
          method,
          headers: {
            host: "docker",
            ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        resolve,
      );
      req.on("error", (err) => reject(signal?.aborted ? err : new SandboxError(`docker sandbox: cannot reach the engine at ${this.socketPath}: ${err.message}`, { cause: err })));
      req.end(payload);
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new DockerApiError(status, method, full, text);
    return { status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** POST /containers/{id}/attach with the connection upgraded to a raw stream. */
  attach(id: string, withStdin: boolean): Promise<{ socket: Duplex; head: Buffer }> {
    const q = `stream=1&stdout=1&stderr=1${withStdin ? "&stdin=1" : ""}`;
    const full = this.path(`/containers/${id}/attach?${q}`);
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        path: full,
        method: "POST",
        headers: { host: "docker", connection: "Upgrade", upgrade: "tcp" },
      });
      req.on("upgrade", (_res, socket, head) => resolve({ socket, head }));
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => reject(new DockerApiError(res.statusCode ?? 0, "POST", full, Buffer.concat(chunks).toString("utf8"))));
      });
      req.on("error", (err) => reject(new SandboxError(`docker sandbox: attach failed: ${err.message}`, { cause: err })));
      req.end();
    });
  }
}

/**
 * Splits the engine's multiplexed attach stream (no TTY): frames of an 8-byte header
 * `[stream, 0, 0, 0, size(uint32 BE)]` followed by `size` bytes; stream 1 is stdout, 2 stderr.
 */
export class StreamDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: number, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      this.onFrame(this.pending[0] ?? 0, this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
  }
}
