import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxSpec } from "../src/contract";
import { buildSandboxContainer, type SandboxContainerConfig } from "../src/sandbox/docker/container-spec";
import { DockerSandboxDriver } from "../src/sandbox/docker/driver";
import { StreamDemuxer, dockerSocketPath } from "../src/sandbox/docker/engine";

/**
 * A fake Docker Engine API on a unix socket: create, attach (hijacked, multiplexed raw stream),
 * start, wait, kill and delete with the real API's status codes and bodies. `start` runs the
 * container's Cmd as a local process, so output, stdin, exit codes and kills are real.
 */
class FakeDockerEngine {
  readonly requests: { method: string; path: string; body?: unknown }[] = [];
  readonly containers = new Map<
    string,
    { config: SandboxContainerConfig; proc?: ChildProcess; attach?: Socket; waiters: ServerResponse[]; exit?: number; removed: boolean }
  >();
  private server: Server;
  socketPath: string;
  private dir: string;
  private seq = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "apex-docker-"));
    this.socketPath = join(this.dir, "docker.sock");
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req: IncomingMessage, socket: Socket) => this.upgrade(req, socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(this.socketPath, r));
  }

  async stop(): Promise<void> {
    for (const c of this.containers.values()) c.proc?.kill("SIGKILL");
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private notFound(res: ServerResponse, id: string): void {
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `No such container: ${id}` }));
  }

  private upgrade(req: IncomingMessage, socket: Socket): void {
    const m = /^\/v1\.41\/containers\/([^/]+)\/attach\?(.*)$/.exec(req.url ?? "");
    this.requests.push({ method: req.method ?? "", path: req.url ?? "" });
    const c = m ? this.containers.get(m[1]!) : undefined;
    if (!c) {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}");
      return;
    }
    socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    c.attach = socket;
    socket.on("error", () => {});
  }

  private frame(stream: number, data: Buffer): Buffer {
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(data.length, 4);
    return Buffer.concat([h, data]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const ch of req) chunks.push(ch as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    this.requests.push({ method: req.method ?? "", path: req.url ?? "", ...(body ? { body } : {}) });
    const url = new URL(req.url ?? "/", "http://docker");
    const json = (code: number, obj?: unknown): void => {
      if (obj === undefined) res.writeHead(code).end();
      else res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(obj));
    };
    if (req.method === "POST" && url.pathname === "/v1.41/containers/create") {
      const config = body as SandboxContainerConfig;
      if (config.Image !== "apex-sandbox:test") return json(404, { message: `No such image: ${config.Image}` });
      const id = `c${++this.seq}`.padEnd(64, "0");
      this.containers.set(id, { config, waiters: [], removed: false });
      return json(201, { Id: id, Warnings: [] });
    }
    const m = /^\/v1\.41\/containers\/([^/]+)(?:\/(start|wait|kill))?$/.exec(url.pathname);
    const id = m?.[1] ?? "";
    const c = this.containers.get(id);
    if (!m || !c || c.removed) return this.notFound(res, id);
    switch (m[2]) {
      case "wait":
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        if (c.exit !== undefined) res.end(JSON.stringify({ StatusCode: c.exit, Error: null }));
        else c.waiters.push(res);
        return;
      case "start":
        this.run(id);
        return json(204);
      case "kill":
        if (!c.proc || c.exit !== undefined) return json(409, { message: `Container ${id} is not running` });
        c.proc.kill("SIGKILL");
        return json(204);
      default:
        if (req.method === "DELETE") {
          c.proc?.kill("SIGKILL");
          c.removed = true;
          return json(204);
        }
        return json(405, { message: "method not allowed" });
    }
  }

  private run(id: string): void {
    const c = this.containers.get(id)!;
    const env = Object.fromEntries(c.config.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    const [cmd, ...args] = c.config.Cmd;
    const proc = spawn(cmd!, args, { env: { PATH: "/usr/bin:/bin", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    c.proc = proc;
    proc.stdin.on("error", () => {});
    if (c.config.OpenStdin && c.attach) c.attach.pipe(proc.stdin);
    else proc.stdin.end();
    proc.stdout.on("data", (d: Buffer) => c.attach?.write(this.frame(1, d)));
    proc.stderr.on("data", (d: Buffer) => c.attach?.write(this.frame(2, d)));
    proc.on("close", (code, signal) => {
      c.exit = code ?? (signal === "SIGKILL" ? 137 : 128);
      c.attach?.end();
      for (const w of c.waiters) w.end(JSON.stringify({ StatusCode: c.exit, Error: null }));
      if (c.config.HostConfig.AutoRemove) c.removed = true;
    });
  }
}

describe("docker sandbox container config", () => {
  it("carries every constraint of the contract", () => {
    const c = buildSandboxContainer({ image: "apex-sandbox:1", argv: ["python3", "-c", "1"], env: { A: "b=c" }, withStdin: false, runtime: "runsc" });
    expect(c).toMatchObject({
      Image: "apex-sandbox:1",
      Entrypoint: [],
      Cmd: ["python3", "-c", "1"],
      Env: ["A=b=c"],
      User: `${sandboxSpec.user.uid}:${sandboxSpec.user.gid}`,
      WorkingDir: sandboxSpec.workdir,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: "none",
        ReadonlyRootfs: true,
        Tmpfs: { [sandboxSpec.tmpfs.path]: `rw,noexec,nosuid,nodev,size=${sandboxSpec.tmpfs.sizeBytes}` },
        Memory: sandboxSpec.memory.bytes,
        MemorySwap: sandboxSpec.memory.bytes,
        NanoCpus: 1_000_000_000,
        PidsLimit: sandboxSpec.pidsLimit,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
        AutoRemove: true,
        Runtime: "runsc",
      },
    });
    expect(() => buildSandboxContainer({ image: "i", argv: ["x"], env: { "BAD-NAME": "1" }, withStdin: false })).toThrow(/env\.BAD-NAME/);
  });

  it("reads DOCKER_HOST", () => {
    expect(dockerSocketPath({})).toBe("/var/run/docker.sock");
    expect(dockerSocketPath({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" })).toBe("/run/user/1000/docker.sock");
    expect(() => dockerSocketPath({ DOCKER_HOST: "tcp://10.0.0.1:2375" })).toThrow(/DOCKER_HOST/);
  });

  it("demultiplexes frames split across chunks", () => {
    const got: [number, string][] = [];
    const d = new StreamDemuxer((s, b) => got.push([s, b.toString()]));
    const f = (s: number, t: string) => Buffer.concat([Buffer.from([s, 0, 0, 0, 0, 0, 0, t.length]), Buffer.from(t)]);
    const all = Buffer.concat([f(1, "hello"), f(2, "err"), f(1, "!")]);
    for (let i = 0; i < all.length; i += 3) d.push(all.subarray(i, i + 3));
    expect(got).toEqual([[1, "hello"], [2, "err"], [1, "!"]]);
  });
});

describe("docker sandbox driver against a fake engine", () => {
  const engine = new FakeDockerEngine();
  let driver: DockerSandboxDriver;
  const req = (argv: string[], extra: Record<string, unknown> = {}) => ({ argv, timeoutMs: 10_000, signal: new AbortController().signal, ...extra });

  beforeAll(async () => {
    await engine.start();
    driver = new DockerSandboxDriver({ socketPath: engine.socketPath, image: "apex-sandbox:test" });
  });
  afterAll(() => engine.stop());

  it("creates the container with the contract's constraints, separates stdout/stderr, passes stdin", async () => {
    const r = await driver.run(req(["python3", "-c", "import sys,os; print(sys.stdin.read().upper() + os.environ['K']); sys.stderr.write('warn')"], { stdin: "abc", env: { K: "v" } }));
    expect(r).toMatchObject({ exitCode: 0, stdout: "ABCv\n", stderr: "warn", timedOut: false });
    expect(r.limits?.pids).toBe(`PidsLimit=${sandboxSpec.pidsLimit}`);
    const create = engine.requests.find((q) => q.path.startsWith("/v1.41/containers/create"));
    const cfg = create?.body as SandboxContainerConfig;
    expect(cfg.HostConfig).toMatchObject({ NetworkMode: "none", ReadonlyRootfs: true, PidsLimit: 100, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], AutoRemove: true });
    expect(cfg.OpenStdin).toBe(true);
    const id = [...engine.containers.keys()].at(-1)!;
    const order = engine.requests.filter((q) => q.path.includes(id)).map((q) => `${q.method} ${q.path.split("?")[0]!.replace(`/v1.41/containers/${id}`, "")}`);
    expect(order.slice(0, 3)).toEqual(["POST /attach", "POST /wait", "POST /start"]);
  });

  it("reports the exit code of a failing program", async () => {
    const r = await driver.run(req(["python3", "-c", "import sys; sys.exit(5)"]));
    expect(r.exitCode).toBe(5);
  });

  it("kills the container on timeout", async () => {
    const t0 = Date.now();
    const r = await driver.run(req(["python3", "-c", "import time; print('up', flush=True); time.sleep(30)"], { timeoutMs: 800 }));
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL", stdout: "up\n" });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(engine.requests.some((q) => q.path.includes("/kill?signal=SIGKILL"))).toBe(true);
  });

  it("kills the container on abort", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await driver.run(req(["python3", "-c", "import time; time.sleep(30)"], { signal: ac.signal }));
    expect(r.aborted).toBe(true);
  });

  it("caps output", async () => {
    const small = new DockerSandboxDriver({ socketPath: engine.socketPath, image: "apex-sandbox:test", maxOutputBytes: 100 });
    const r = await small.run(req(["python3", "-c", "print('x' * 10000)"]));
    expect(r.stdout.length).toBe(100);
    expect(r.truncated?.stdout).toBe(true);
  });

  it("surfaces engine errors with the engine's message", async () => {
    const other = new DockerSandboxDriver({ socketPath: engine.socketPath, image: "missing:1" });
    await expect(other.run(req(["true"]))).rejects.toThrow(/HTTP 404: No such image: missing:1/);
    const nowhere = new DockerSandboxDriver({ socketPath: join(tmpdir(), "no-such-docker.sock") });
    await expect(nowhere.run(req(["true"]))).rejects.toThrow(/cannot reach the engine/);
  });
});
