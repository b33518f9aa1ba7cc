/**
 * A TCP proxy on 127.0.0.1 in front of a real server (Postgres, Redis) that a test can cut (drop
 * every open connection and refuse new ones) and restore: a dependency going away and coming back,
 * without touching the shared server other test files use.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Connections refused while cut: a client noticed the cut and tried to reconnect. */
  readonly refused: number;
  /** Drops every open connection; new ones are refused until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let up = true;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (!up) {
      refused++;
      return client.destroy();
    }
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    get refused() {
      return refused;
    },
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
