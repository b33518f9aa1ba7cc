/**
 * The tool sandbox's constraints (seed §3). The infrastructure renders them into the sandbox
 * namespace, LimitRange and pod template; the worker's sandbox drivers apply them when they start
 * a sandbox. Kubernetes has no per-pod PID field, so `pidsLimit` is enforced by the drivers and,
 * on Kubernetes, by the sandbox node pool's kubelet `podPidsLimit` (docs/sandbox.md).
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
  /**
   * The local driver's seccomp filter (bubblewrap `--seccomp`, built by
   * app/src/sandbox/local/seccomp.ts): these syscalls fail with EPERM, and so do `clone` and
   * `unshare` asking for any new namespace; `clone3` fails with ENOSYS (its flags sit behind a
   * pointer a filter cannot read; libc then falls back to `clone`); a syscall of another
   * architecture or of the x32 ABI kills the process. Docker and Kubernetes sandboxes use the
   * container runtime's RuntimeDefault profile instead.
   */
  seccomp: {
    deniedSyscalls: [
      // Debugging and reading other processes' memory.
      "ptrace", "process_vm_readv", "process_vm_writev",
      // Mounts and root changes (the old and the new mount API).
      "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
      // Kernel keyrings.
      "keyctl", "add_key", "request_key",
      // Kernel attack surface an untrusted program has no use for.
      "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
      // Namespaces (entering one; creating one is checked on clone/unshare's flags).
      "setns",
      // Kernel code and the machine.
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
      "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl", "settimeofday", "clock_settime",
      "open_by_handle_at", "lookup_dcookie", "vhangup",
      // x86_64 only (absent from the aarch64 table).
      "iopl", "ioperm", "uselib", "_sysctl",
    ],
    /** Errno of a denied syscall (and of clone/unshare creating a namespace). */
    errno: "EPERM",
    /** Architectures the filter is built for; anything else is killed. */
    architectures: ["x86_64", "aarch64"],
  },
} as const;

export type SandboxSpec = typeof sandboxSpec;

/** Taint effects a sandbox toleration may name (core/v1 Toleration.effect). */
export const sandboxTaintEffects = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** A toleration of the sandbox node pool's taint: the core/v1 Toleration fields sandboxes use. */
export interface SandboxToleration {
  readonly key: string;
  /** `Equal` matches `value`; `Exists` matches any value (and carries none). */
  readonly operator: "Equal" | "Exists";
  readonly value?: string;
  readonly effect: (typeof sandboxTaintEffects)[number];
}

/**
 * Where sandbox Pods run: the dedicated, tainted node pool's labels (nodeSelector) and the
 * tolerations of its taint. The stack renders it into the RuntimeClass's scheduling, the pod
 * template and the admission policy; the worker reads it from APEX_SANDBOX_NODE_SELECTOR and
 * APEX_SANDBOX_TOLERATIONS.
 */
export interface SandboxPlacement {
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly SandboxToleration[];
}
