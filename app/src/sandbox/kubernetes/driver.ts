import { constants } from "node:os";
import { sandboxSpec, type SandboxToleration } from "../../contract";
import { SandboxError } from "../errors";
import { newSandboxName } from "../identity";
import { assertValidRequest, defaultMaxOutputBytes } from "../output";
import { buildSandboxPod, sandboxContainerName } from "../pod-template";
import type { AppliedLimits, SandboxDriver, SandboxRequest, SandboxResult } from "../types";
import { KubeApiError, KubeClient, type KubeConnection, inClusterConnection, kubeconfigConnection } from "./client";

export interface KubernetesSandboxOptions {
  /** Sandbox image reference, e.g. the digest the stack built. */
  readonly image: string;
  /** Default the contract's sandbox namespace. */
  readonly namespace?: string;
  /** Explicit connection; default `kubeconfigPath` if given, else the in-cluster service account. */
  readonly connection?: KubeConnection;
  readonly kubeconfigPath?: string;
  readonly kubeconfigContext?: string;
  /** e.g. `gvisor`. Default none. */
  readonly runtimeClassName?: string;
  /** The sandbox node pool's labels (APEX_SANDBOX_NODE_SELECTOR). Default none. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Tolerations of the sandbox node pool's taint (APEX_SANDBOX_TOLERATIONS). Default none. */
  readonly tolerations?: readonly SandboxToleration[];
  /** Time allowed for scheduling and image pull on top of the run's timeout. Default 60 s. */
  readonly startupGraceMs?: number;
  /** Cap on the log bytes read back. Default 1 MiB. */
  readonly maxOutputBytes?: number;
}

interface PodStatus {
  metadata?: { resourceVersion?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    containerStatuses?: {
      name: string;
      state?: {
        terminated?: { exitCode: number; signal?: number; reason?: string };
        waiting?: { reason?: string; message?: string };
      };
    }[];
  };
}

const terminalPhases = new Set(["Succeeded", "Failed"]);
/** Container waiting reasons that no amount of waiting fixes: fail the run at once. */
const hopelessWaitingReasons = new Set(["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError"]);

function hopeless(pod: PodStatus): string | undefined {
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && hopelessWaitingReasons.has(w.reason)) return `${w.reason}${w.message ? `: ${w.message}` : ""}`;
  }
  return undefined;
}

function signalName(n: number | undefined): string | null {
  if (n === undefined || n === 0) return null;
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name;
  return null;
}

/** " on nodes k=v,..." for the isolation summary; empty without a node pool. */
function placementText(nodeSelector: Readonly<Record<string, string>> | undefined): string {
  const labels = Object.entries(nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`);
  return labels.length > 0 ? ` on nodes ${labels.join(",")}` : "";
}

/** One Pod per run in the sandbox namespace: create, watch to completion, read logs, delete. */
export class KubernetesSandboxDriver implements SandboxDriver {
  readonly name = "kubernetes" as const;
  private readonly client: KubeClient;
  private readonly namespace: string;

  constructor(private readonly opts: KubernetesSandboxOptions) {
    if (!opts.image) throw new SandboxError("kubernetes sandbox: image is required");
    const conn =
      opts.connection ?? (opts.kubeconfigPath ? kubeconfigConnection(opts.kubeconfigPath, opts.kubeconfigContext) : inClusterConnection());
    this.client = new KubeClient(conn);
    this.namespace = opts.namespace ?? sandboxSpec.namespace;
  }

  limits(): AppliedLimits {
    return {
      isolation: `pod${this.opts.runtimeClassName ? ` (runtimeClass ${this.opts.runtimeClassName})` : ""}${placementText(this.opts.nodeSelector)}`,
      network: `NetworkPolicy of namespace ${this.namespace} (default-deny, from the infrastructure)`,
      filesystem: `readOnlyRootFilesystem, memory-backed emptyDir ${sandboxSpec.tmpfs.path} (${sandboxSpec.tmpfs.kubernetes})`,
      user: `uid ${sandboxSpec.user.uid} (runAsNonRoot)`,
      memory: `limits.memory=${sandboxSpec.memory.kubernetes}`,
      cpu: `limits.cpu=${sandboxSpec.cpu.kubernetes}`,
      pids: `kubelet podPidsLimit (node setting; ${sandboxSpec.pidsLimit} expected)`,
      capabilities: "drop ALL, allowPrivilegeEscalation false, seccomp RuntimeDefault",
      seccomp: "RuntimeDefault (the container runtime's profile)",
    };
  }

  async run(req: SandboxRequest): Promise<SandboxResult> {
    assertValidRequest(req);
    if (req.stdin !== undefined) {
      throw new SandboxError("kubernetes sandbox: stdin is not supported; pass the input through env or argv");
    }
    if (req.networkAllowlist && req.networkAllowlist.length > 0) {
      throw new SandboxError("kubernetes sandbox: per-request network allowlists are not supported; egress is the namespace's NetworkPolicy");
    }
    if (req.signal.aborted) throw new SandboxError("kubernetes sandbox: request aborted before start");
    const started = Date.now();
    const name = newSandboxName();
    const podsPath = `/api/v1/namespaces/${this.namespace}/pods`;
    const pod = buildSandboxPod({
      name,
      namespace: this.namespace,
      image: this.opts.image,
      argv: req.argv,
      env: req.env ?? {},
      timeoutMs: req.timeoutMs,
      runtimeClassName: this.opts.runtimeClassName,
      nodeSelector: this.opts.nodeSelector,
      tolerations: this.opts.tolerations,
    });

    const stop = new AbortController();
    let timedOut = false;
    let aborted = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, req.timeoutMs + (this.opts.startupGraceMs ?? 60_000));
    const onAbort = (): void => {
      aborted = true;
      stop.abort();
    };
    req.signal.addEventListener("abort", onAbort, { once: true });

    let created = false;
    try {
      const createdPod = await this.client.request<PodStatus>("POST", podsPath, pod, stop.signal);
      created = true;
      let final: PodStatus | undefined;
      try {
        final = await this.waitForCompletion(name, createdPod.metadata?.resourceVersion, stop.signal);
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      }
      const status = final?.status;
      const term = status?.containerStatuses?.find((c) => c.name === sandboxContainerName)?.state?.terminated;
      if (status?.reason === "DeadlineExceeded") timedOut = true;
      const max = this.opts.maxOutputBytes ?? defaultMaxOutputBytes;
      // Also after a timeout or abort: whatever the program printed so far is worth keeping.
      const logs = await this.client
        .text(`${podsPath}/${name}/log?container=${sandboxContainerName}&limitBytes=${max + 1}`, AbortSignal.timeout(10_000))
        .catch((err: unknown) => {
          if (final && !(err instanceof KubeApiError && err.status === 400)) throw err;
          return ""; // 400: the container never started.
        });
      const truncated = Buffer.byteLength(logs) > max;
      return {
        exitCode: term?.exitCode ?? null,
        signal: signalName(term?.signal) ?? (term?.exitCode === undefined && (timedOut || aborted) ? "SIGKILL" : null),
        // Pod logs interleave stdout and stderr; they are returned as stdout.
        stdout: truncated ? Buffer.from(logs).subarray(0, max).toString("utf8") : logs,
        stderr: status?.phase === "Failed" && !term ? (status.message ?? status.reason ?? "") : "",
        timedOut,
        durationMs: Date.now() - started,
        limits: this.limits(),
        truncated: { stdout: truncated, stderr: false },
        oomKilled: term?.reason === "OOMKilled",
        aborted,
      };
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onAbort);
      if (created) {
        await this.client.request("DELETE", `${podsPath}/${name}?gracePeriodSeconds=0`).catch((err: unknown) => {
          if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        });
      }
    }
  }

  /** Watches the pod until it is Succeeded or Failed; a closed watch is resumed from the last version. */
  private async waitForCompletion(name: string, resourceVersion: string | undefined, signal: AbortSignal): Promise<PodStatus> {
    const podPath = `/api/v1/namespaces/${this.namespace}/pods/${name}`;
    let rv = resourceVersion;
    for (;;) {
      const q = new URLSearchParams({ watch: "true", fieldSelector: `metadata.name=${name}`, timeoutSeconds: "60" });
      if (rv) q.set("resourceVersion", rv);
      try {
        for await (const ev of this.client.watch<PodStatus>(`/api/v1/namespaces/${this.namespace}/pods?${q}`, signal)) {
          if (ev.type === "ERROR") {
            rv = undefined; // e.g. 410 Gone: the version is too old; re-read the pod below.
            break;
          }
          if (ev.type === "DELETED") throw new SandboxError(`kubernetes sandbox: pod ${name} was deleted before it finished`);
          rv = ev.object.metadata?.resourceVersion ?? rv;
          if (terminalPhases.has(ev.object.status?.phase ?? "")) return ev.object;
          const stuck = hopeless(ev.object);
          if (stuck) throw new SandboxError(`kubernetes sandbox: pod ${name} cannot start: ${stuck}`);
        }
      } catch (err) {
        if (signal.aborted || (err instanceof SandboxError && !(err instanceof KubeApiError && err.status === 410))) throw err;
        // A dropped watch connection: fall through to a fresh read and watch again.
      }
      const current = await this.client.request<PodStatus>("GET", podPath, undefined, signal);
      if (terminalPhases.has(current.status?.phase ?? "")) return current;
      rv = current.metadata?.resourceVersion;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(): void {
    this.client.close();
  }
}
