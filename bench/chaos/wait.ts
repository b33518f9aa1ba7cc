/** Waiting on conditions (never on the clock alone), and free loopback ports. */
import { createServer, type AddressInfo } from "node:net";

export const pollMs = 100;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. Errors of `condition` count as "not yet". */
export async function pollUntil(what: string, timeoutMs: number, condition: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      if (await condition()) return;
    } catch (err) {
      lastError = `: last error ${(err as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting until ${what}${lastError}`);
    await sleep(pollMs);
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
