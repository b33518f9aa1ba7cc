/**
 * Request/reply over the IPC channel between the bench and the processes it spawns. A child may
 * serve several methods from different modules (the pg-count preload serves `pg-count`, the
 * graphile-worker process the rest); each server answers only its own methods.
 */
import type { ChildProcess } from "node:child_process";

interface IpcRequest {
  readonly benchRequest: number;
  readonly method: string;
  readonly params?: unknown;
}

interface IpcReply {
  readonly benchReply: number;
  readonly result?: unknown;
  readonly error?: string;
}

const isRequest = (m: unknown): m is IpcRequest => typeof m === "object" && m !== null && "benchRequest" in m;
const isReply = (m: unknown): m is IpcReply => typeof m === "object" && m !== null && "benchReply" in m;

/** In a child: answers `method` requests with `handle(params)`. A no-op without an IPC channel. */
export function serveIpc(method: string, handle: (params: unknown) => unknown): void {
  if (!process.send) return;
  process.on("message", (message: unknown) => {
    if (!isRequest(message) || message.method !== method) return;
    const reply = (r: Omit<IpcReply, "benchReply">) => process.send?.({ benchReply: message.benchRequest, ...r });
    Promise.resolve()
      .then(() => handle(message.params))
      .then(
        (result) => reply({ result }),
        (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
      );
  });
  // The channel must never be what keeps a child alive.
  process.channel?.unref();
}

/** In a child: tells the bench that every method is being served (requests sent earlier could be lost). */
export function announceReady(): void {
  process.send?.({ benchReady: true });
}

/** In the bench: calls methods a child serves. */
export class ChildIpc {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly readyPromise: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    this.readyPromise = new Promise((resolve, reject) => {
      child.on("message", (m: unknown) => {
        if (typeof m === "object" && m !== null && "benchReady" in m) resolve();
      });
      child.once("exit", (code, signal) => reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready`)));
    });
    this.readyPromise.catch(() => undefined);
    child.on("message", (message: unknown) => {
      if (!isReply(message)) return;
      const p = this.pending.get(message.benchReply);
      if (!p) return;
      this.pending.delete(message.benchReply);
      if (message.error !== undefined) p.reject(new Error(`${name}: ${message.error}`));
      else p.resolve(message.result);
    });
    child.once("exit", (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before answering`));
      this.pending.clear();
    });
  }

  /** Resolves once the child called announceReady(). */
  ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} was not ready within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.readyPromise, timeout]).finally(() => clearTimeout(timer));
  }

  request<T>(method: string, params?: unknown, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ benchRequest: id, method, params } satisfies IpcRequest, (err) => {
        if (err) this.pending.get(id)?.reject(err);
      });
    });
  }
}
