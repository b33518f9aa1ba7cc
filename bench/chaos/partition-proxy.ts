/**
 * The TCP proxy between Apex and the run's Postgres: `blackhole()` is a network partition where
 * packets are dropped, not refused, until `restore()`.
 *
 * - Open connections: bytes, FINs and closes from either side are held and delivered on restore,
 *   as TCP's retransmissions would deliver them once the network heals.
 * - New connections are accepted and held without reaching Postgres (their SYN is "dropped"); one
 *   the client abandons meanwhile (a connect timeout) never reaches Postgres, as a real client
 *   kernel stops retransmitting its SYN. The rest are connected on restore.
 *
 * (app/test/helpers/tcp-proxy.ts connects abandoned held connections on restore, where they stay
 * open for ever: after a 30 s blackhole under load they exhaust max_connections.)
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface PartitionProxy {
  readonly port: number;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startPartitionProxy(targetHost: string, targetPort: number): Promise<PartitionProxy> {
  const sockets = new Set<Socket>();
  let partitioned = false;
  /** What the partition holds back, in order. */
  let held: (() => void)[] = [];

  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };
  const deliver = (f: () => void) => (partitioned ? held.push(f) : f());

  function forward(from: Socket, to: Socket) {
    from.on("data", (chunk: Buffer) => deliver(() => to.destroyed || to.write(chunk)));
    from.on("end", () => deliver(() => to.end()));
    from.on("close", () => deliver(() => to.destroy()));
  }

  function join(client: Socket, early: readonly Buffer[]) {
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    track(upstream);
    for (const chunk of early) upstream.write(chunk);
    forward(client, upstream);
    forward(upstream, client);
  }

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    track(client);
    if (!partitioned) return join(client, []);
    const early: Buffer[] = [];
    let abandoned = false;
    const buffer = (chunk: Buffer) => early.push(chunk);
    const abandon = () => {
      abandoned = true;
      client.destroy();
    };
    client.on("data", buffer);
    client.once("end", abandon);
    client.once("close", abandon);
    held.push(() => {
      if (abandoned) return;
      client.off("data", buffer);
      client.off("end", abandon);
      client.off("close", abandon);
      join(client, early);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    blackhole() {
      partitioned = true;
    },
    restore() {
      partitioned = false;
      const pending = held;
      held = [];
      for (const f of pending) f();
    },
    close() {
      held = [];
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
