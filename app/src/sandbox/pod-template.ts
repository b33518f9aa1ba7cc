import { sandboxSpec, type SandboxToleration } from "../contract";
import { sandboxLabels } from "./identity";
import { sandboxNodeSelectorSchema, sandboxTolerationsSchema } from "./placement";

/**
 * The sandbox Pod: one per tool execution, in the sandbox namespace. The worker's kubernetes
 * driver creates it at run time and the infrastructure exports the same manifest as the pod
 * template, so both always agree. Every limit comes from `contract/sandbox.ts`. Kubernetes has no
 * per-pod PID field: the 100-PID cap is the sandbox node pool's kubelet `podPidsLimit`, and the
 * nodeSelector and tolerations below put the Pod on that pool.
 */

export interface SandboxPodOptions {
  /** Pod name (DNS-1123 label). */
  readonly name: string;
  /** Default the contract's sandbox namespace (`apex-sandbox`). */
  readonly namespace?: string;
  /** Sandbox image reference (`repo:tag` or `repo@sha256:...`). */
  readonly image: string;
  /** Program and arguments; replaces the image's entrypoint, no shell. */
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** e.g. `gvisor` for a RuntimeClass that runs `runsc`. Default none (the node's runtime). */
  readonly runtimeClassName?: string;
  /** Labels of the sandbox node pool's nodes. Default none (any node). */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Tolerations of the sandbox node pool's taint. Default none. */
  readonly tolerations?: readonly SandboxToleration[];
  /** Becomes `activeDeadlineSeconds` (rounded up). Default the contract's default timeout. */
  readonly timeoutMs?: number;
  /** Extra labels (e.g. the task id) on the Pod. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The sandbox Pod manifest (the subset of core/v1 Pod this template uses). */
export interface SandboxPod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    restartPolicy: "Never";
    activeDeadlineSeconds: number;
    terminationGracePeriodSeconds: number;
    automountServiceAccountToken: false;
    enableServiceLinks: false;
    hostNetwork: false;
    hostPID: false;
    hostIPC: false;
    runtimeClassName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: SandboxToleration[];
    securityContext: {
      runAsNonRoot: true;
      runAsUser: number;
      runAsGroup: number;
      fsGroup: number;
      seccompProfile: { type: "RuntimeDefault" };
    };
    containers: [SandboxContainer];
    volumes: [{ name: string; emptyDir: { medium: "Memory"; sizeLimit: string } }];
  };
}

export interface SandboxContainer {
  name: string;
  image: string;
  command: string[];
  env: { name: string; value: string }[];
  workingDir: string;
  stdin: false;
  tty: false;
  resources: { limits: Record<string, string>; requests: Record<string, string> };
  securityContext: {
    allowPrivilegeEscalation: false;
    privileged: false;
    readOnlyRootFilesystem: true;
    runAsNonRoot: true;
    runAsUser: number;
    runAsGroup: number;
    capabilities: { drop: string[] };
    seccompProfile: { type: "RuntimeDefault" };
  };
  volumeMounts: { name: string; mountPath: string }[];
}

export const sandboxContainerName = "sandbox";
const tmpVolume = "tmp";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Labels every sandbox Pod carries; NetworkPolicies and cleanup select on them. */
export const sandboxPodLabels = sandboxLabels;

export function buildSandboxPod(opts: SandboxPodOptions): SandboxPod {
  if (!dns1123Label.test(opts.name) || opts.name.length > 63) {
    throw new TypeError(`buildSandboxPod: name "${opts.name}" must be a DNS-1123 label (lowercase alphanumerics and '-', at most 63)`);
  }
  const namespace = opts.namespace ?? sandboxSpec.namespace;
  if (!dns1123Label.test(namespace)) throw new TypeError(`buildSandboxPod: namespace "${namespace}" must be a DNS-1123 label`);
  if (opts.image.trim() === "") throw new TypeError("buildSandboxPod: image must not be empty");
  if (opts.argv.length === 0 || opts.argv[0] === "") throw new TypeError("buildSandboxPod: argv must name a program");
  const env = Object.entries(opts.env ?? {}).map(([name, value]) => {
    if (!envName.test(name)) throw new TypeError(`buildSandboxPod: env.${name} is not a valid environment variable name`);
    return { name, value };
  });
  const nodeSelector = sandboxNodeSelectorSchema.safeParse(opts.nodeSelector ?? {});
  if (!nodeSelector.success) throw new TypeError(`buildSandboxPod: nodeSelector: ${issueText(nodeSelector.error)}`);
  const tolerations = sandboxTolerationsSchema.safeParse(opts.tolerations ?? []);
  if (!tolerations.success) throw new TypeError(`buildSandboxPod: tolerations: ${issueText(tolerations.error)}`);
  const timeoutMs = opts.timeoutMs ?? sandboxSpec.defaultTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`buildSandboxPod: timeoutMs must be positive, got ${timeoutMs}`);
  const { uid, gid } = sandboxSpec.user;
  const resources = { cpu: sandboxSpec.cpu.kubernetes, memory: sandboxSpec.memory.kubernetes };
  const seccompProfile = { type: "RuntimeDefault" as const };

  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: opts.name, namespace, labels: { ...opts.labels, ...sandboxPodLabels } },
    spec: {
      restartPolicy: "Never",
      activeDeadlineSeconds: Math.ceil(timeoutMs / 1000),
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      // Service links would hand the program every Service's address as env vars.
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      ...(opts.runtimeClassName ? { runtimeClassName: opts.runtimeClassName } : {}),
      ...(Object.keys(nodeSelector.data).length > 0 ? { nodeSelector: { ...nodeSelector.data } } : {}),
      ...(tolerations.data.length > 0 ? { tolerations: tolerations.data.map((t) => ({ ...t })) } : {}),
      securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid, seccompProfile },
      containers: [
        {
          name: sandboxContainerName,
          image: opts.image,
          command: [...opts.argv],
          env,
          workingDir: sandboxSpec.workdir,
          stdin: false,
          tty: false,
          resources: { limits: { ...resources }, requests: { ...resources } },
          securityContext: {
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: sandboxSpec.readOnlyRootFilesystem,
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: gid,
            capabilities: { drop: [...sandboxSpec.capDrop] },
            seccompProfile,
          },
          volumeMounts: [{ name: tmpVolume, mountPath: sandboxSpec.tmpfs.path }],
        },
      ],
      // Memory-backed: the tmpfs counts against the container's memory limit.
      volumes: [{ name: tmpVolume, emptyDir: { medium: "Memory", sizeLimit: sandboxSpec.tmpfs.kubernetes } }],
    },
  };
}

const issueText = (error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string =>
  error.issues.map((i) => `${i.path.map(String).join(".") || "(value)"}: ${i.message}`).join("; ");
