/**
 * The chaos run's own redis-server on a free loopback port (never the shared 6379), restartable on
 * the same port. No persistence: a restart loses every key, as a Redis without AOF does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { freePort, pollUntil } from "./wait";

export interface ChaosRedis {
  readonly url: string;
  /** SIGKILL (a crash, nothing flushed), then the same server again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Synchronous, for exit paths. */
  killNow(): void;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}

export async function startChaosRedis(logFile: string): Promise<ChaosRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const log = openSync(logFile, "a");
    const c = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      detached: true,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    c.once("error", () => undefined);
    child = c;
    await pollUntil(`redis-server on ${port} answers PING`, 15_000, async () => c.exitCode === null && (await ping(port)));
  }

  async function kill(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await kill();
      await start();
    },
    stop: kill,
    killNow() {
      if (child && child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
