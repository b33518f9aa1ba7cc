/**
 * The tool sandbox's constraints (seed §3). The infrastructure renders them into the sandbox
 * namespace, LimitRange and pod template; the worker's sandbox drivers apply them when they start
 * a sandbox. Kubernetes has no per-pod PID field, so `pidsLimit` is enforced by the drivers and
 * documented for the kubelet's `podPidsLimit`.
 */
export const sandboxSpec = {
  image: "apex-sandbox",
  namespace: "apex-sandbox",
  user: { uid: 1000, gid: 1000 },
  workdir: "/sandbox",
  cpu: { cores: 1, kubernetes: "1" },
  memory: { bytes: 512 * 1024 * 1024, kubernetes: "512Mi", docker: "512m" },
  pidsLimit: 100,
  network: "none" as const,
  readOnlyRootFilesystem: true,
  tmpfs: { path: "/tmp", sizeBytes: 64 * 1024 * 1024, kubernetes: "64Mi" },
  capDrop: ["ALL"] as const,
  noNewPrivileges: true,
  defaultTimeoutMs: 30_000,
} as const;

export type SandboxSpec = typeof sandboxSpec;
