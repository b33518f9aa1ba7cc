/** Waiting in tests: poll until a condition holds (never a fixed sleep), and a free loopback port. */
import { createServer } from "node:net";

export interface WaitOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** Default 200 ms. */
  readonly intervalMs?: number;
}

/** The first value `probe` returns that is not undefined; throws "timed out waiting for <what>" after the timeout. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, opts: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** A TCP port free on 127.0.0.1 now (for programs that cannot report an ephemeral port back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
