/**
 * A TCP proxy on 127.0.0.1 in front of a real server (Postgres, Redis) that a test can cut (drop
 * every open connection and refuse new ones), blackhole (keep every connection open and accept new
 * ones, but deliver no byte either way: a partition where packets are dropped, not refused) and
 * restore, without touching the shared server other test files use.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Connections refused while cut: a client noticed the cut and tried to reconnect. */
  readonly refused: number;
  /** Connections accepted and held (connected upstream on restore unless their client gave up) while blackholed. */
  readonly held: number;
  /** Drops every open connection; new ones are refused until restore(). */
  cut(): void;
  /**
   * Delivers no more bytes on open connections and holds new ones open without connecting them
   * upstream, until restore(). Like a dropped-packet partition, nothing is refused or reset.
   */
  blackhole(): void;
  /** Ends cut or blackhole. Bytes held on open connections during a blackhole are delivered (TCP retransmits). */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let state: "up" | "cut" | "blackhole" = "up";
  let refused = 0;
  let held = 0;
  /** Work to do on restore: flushing held bytes, connecting held clients. */
  let onRestore: (() => void)[] = [];

  function track(s: Socket) {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  }

  function forward(from: Socket, to: Socket) {
    from.on("data", (chunk: Buffer) => {
      if (state === "blackhole") onRestore.push(() => to.destroyed || to.write(chunk));
      else to.write(chunk);
    });
    // A FIN or a close is a packet too: held until restore while blackholed.
    from.on("end", () => (state === "blackhole" ? onRestore.push(() => to.end()) : to.end()));
    from.on("close", () => (state === "blackhole" ? onRestore.push(() => to.destroy()) : to.destroy()));
  }

  function join(client: Socket) {
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    track(upstream);
    forward(client, upstream);
    forward(upstream, client);
  }

  // Half-open sockets: the proxy must not answer a FIN on its own (a blackhole answers nothing); ends are forwarded.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (state === "cut") {
      refused++;
      return client.destroy();
    }
    track(client);
    if (state === "blackhole") {
      held++;
      const early: Buffer[] = [];
      const buffer = (chunk: Buffer) => early.push(chunk);
      // A client that gives up (connect timeout) never reaches the server: its kernel stops
      // retransmitting the SYN. Joining it on restore would leave a server connection open for ever.
      let abandoned = false;
      const abandon = () => {
        abandoned = true;
        client.destroy();
      };
      client.on("data", buffer);
      client.once("end", abandon);
      client.once("close", abandon);
      onRestore.push(() => {
        if (abandoned) return;
        client.off("data", buffer);
        client.off("end", abandon);
        client.off("close", abandon);
        join(client);
        for (const chunk of early) client.emit("data", chunk);
      });
      return;
    }
    join(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    get refused() {
      return refused;
    },
    get held() {
      return held;
    },
    cut() {
      state = "cut";
      onRestore = [];
      for (const s of sockets) s.destroy();
    },
    blackhole() {
      state = "blackhole";
    },
    restore() {
      state = "up";
      const pending = onRestore;
      onRestore = [];
      for (const f of pending) f();
    },
    close() {
      onRestore = [];
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
