import { sandboxSpec } from "../../contract";
import { SandboxError } from "../errors";
import { newSandboxName } from "../identity";
import { CappedOutput, assertValidRequest, defaultMaxOutputBytes } from "../output";
import type { AppliedLimits, SandboxDriver, SandboxRequest, SandboxResult } from "../types";
import { buildSandboxContainer } from "./container-spec";
import { DockerApiError, DockerEngine, StreamDemuxer, dockerSocketPath } from "./engine";

export interface DockerSandboxOptions {
  /** Sandbox image. Default the contract's image name. */
  readonly image?: string;
  /** Engine socket. Default DOCKER_HOST (unix://) or /var/run/docker.sock. */
  readonly socketPath?: string;
  /** OCI runtime, e.g. `runsc`. Default the engine's. */
  readonly runtime?: string;
  /** Cap on each of stdout and stderr. Default 1 MiB. */
  readonly maxOutputBytes?: number;
}

/** One container per run on the Docker engine, created with every constraint of the contract. */
export class DockerSandboxDriver implements SandboxDriver {
  readonly name = "docker" as const;
  private readonly engine: DockerEngine;
  private readonly image: string;

  constructor(private readonly opts: DockerSandboxOptions = {}) {
    this.engine = new DockerEngine(opts.socketPath ?? dockerSocketPath());
    this.image = opts.image ?? sandboxSpec.image;
  }

  limits(): AppliedLimits {
    return {
      isolation: `container${this.opts.runtime ? ` (runtime ${this.opts.runtime})` : ""}`,
      network: "none (NetworkMode none)",
      filesystem: `ReadonlyRootfs, tmpfs ${sandboxSpec.tmpfs.path} (${sandboxSpec.tmpfs.sizeBytes} bytes)`,
      user: `${sandboxSpec.user.uid}:${sandboxSpec.user.gid}`,
      memory: `Memory=${sandboxSpec.memory.bytes} (no swap)`,
      cpu: `NanoCpus=${sandboxSpec.cpu.cores * 1e9}`,
      pids: `PidsLimit=${sandboxSpec.pidsLimit}`,
      capabilities: "CapDrop ALL, no-new-privileges",
      seccomp: "the engine's default profile",
    };
  }

  async run(req: SandboxRequest): Promise<SandboxResult> {
    assertValidRequest(req);
    if (req.networkAllowlist && req.networkAllowlist.length > 0) {
      throw new SandboxError("docker sandbox: per-request network allowlists are not supported; sandboxes run with network none");
    }
    if (req.signal.aborted) throw new SandboxError("docker sandbox: request aborted before start");
    const started = Date.now();
    const withStdin = req.stdin !== undefined;
    const config = buildSandboxContainer({ image: this.image, argv: req.argv, env: req.env ?? {}, withStdin, ...(this.opts.runtime ? { runtime: this.opts.runtime } : {}) });
    const name = newSandboxName();
    const { body: created } = await this.engine.request<{ Id: string; Warnings?: string[] }>("POST", `/containers/create?name=${name}`, config);
    const id = created.Id;

    const max = this.opts.maxOutputBytes ?? defaultMaxOutputBytes;
    const stdout = new CappedOutput(max);
    const stderr = new CappedOutput(max);
    let timedOut = false;
    let aborted = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      aborted = true;
      void this.kill(id);
    };
    try {
      const { socket, head } = await this.engine.attach(id, withStdin);
      const demux = new StreamDemuxer((stream, data) => (stream === 2 ? stderr : stdout).push(data));
      if (head.length) demux.push(head);
      socket.on("data", (c: Buffer) => demux.push(c));
      const streamDone = new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.once("end", () => resolve());
        socket.once("error", () => resolve());
      });
      const waited = this.engine.request<{ StatusCode: number; Error?: { Message?: string } | null }>("POST", `/containers/${id}/wait?condition=next-exit`);
      waited.catch(() => {}); // Observed below; a failed start must not leave it unhandled.
      await this.engine.request("POST", `/containers/${id}/start`);
      if (withStdin) socket.end(req.stdin);
      timer = setTimeout(() => {
        timedOut = true;
        void this.kill(id);
      }, req.timeoutMs);
      req.signal.addEventListener("abort", onAbort, { once: true });
      const { body: exit } = await waited;
      await Promise.race([streamDone, new Promise((r) => setTimeout(r, 2000))]);
      socket.destroy();
      const exitCode = exit.StatusCode;
      const killed = exitCode === 137 && (timedOut || aborted);
      return {
        exitCode: killed ? null : exitCode,
        signal: killed ? "SIGKILL" : null,
        stdout: stdout.text(),
        stderr: stderr.text() + (exit.Error?.Message ? `\n${exit.Error.Message}` : ""),
        timedOut,
        durationMs: Date.now() - started,
        limits: this.limits(),
        truncated: { stdout: stdout.truncated, stderr: stderr.truncated },
        aborted,
      };
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onAbort);
      // AutoRemove normally does this; force it for runs that never started or were interrupted.
      await this.engine.request("DELETE", `/containers/${id}?force=true`).catch((err: unknown) => {
        if (!(err instanceof DockerApiError && (err.status === 404 || err.status === 409))) throw err;
      });
    }
  }

  private async kill(id: string): Promise<void> {
    await this.engine.request("POST", `/containers/${id}/kill?signal=SIGKILL`).catch(() => {
      // Already stopped: nothing to kill.
    });
  }
}
