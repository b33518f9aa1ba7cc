import { sandboxSpec } from "../../contract";
import { sandboxLabels } from "../identity";

/**
 * The Docker Engine API `ContainerCreate` body for one sandbox run: every constraint of
 * `contract/sandbox.ts` as the engine spells it. The engine API has `PidsLimit`, which
 * `@pulumi/docker`'s Container lacks, so the 100-PID cap exists only here, at run time.
 */
export interface SandboxContainerOptions {
  readonly image: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly withStdin: boolean;
  /** OCI runtime, e.g. `runsc` (gVisor). Default the engine's default runtime. */
  readonly runtime?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface SandboxContainerConfig {
  Image: string;
  Cmd: string[];
  Entrypoint: string[];
  Env: string[];
  User: string;
  WorkingDir: string;
  Tty: false;
  AttachStdin: boolean;
  AttachStdout: true;
  AttachStderr: true;
  OpenStdin: boolean;
  StdinOnce: boolean;
  NetworkDisabled: true;
  Labels: Record<string, string>;
  HostConfig: {
    NetworkMode: "none";
    ReadonlyRootfs: true;
    Tmpfs: Record<string, string>;
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    PidsLimit: number;
    CapDrop: string[];
    SecurityOpt: string[];
    Privileged: false;
    AutoRemove: true;
    IpcMode: "private";
    Runtime?: string;
  };
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildSandboxContainer(opts: SandboxContainerOptions): SandboxContainerConfig {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
    if (!envName.test(k)) throw new TypeError(`docker sandbox: env.${k} is not a valid environment variable name`);
    return `${k}=${v}`;
  });
  const { uid, gid } = sandboxSpec.user;
  return {
    Image: opts.image,
    // An empty Entrypoint makes Cmd the whole argv, whatever the image's ENTRYPOINT.
    Entrypoint: [],
    Cmd: [...opts.argv],
    Env: env,
    User: `${uid}:${gid}`,
    WorkingDir: sandboxSpec.workdir,
    Tty: false,
    AttachStdin: opts.withStdin,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: opts.withStdin,
    StdinOnce: opts.withStdin,
    NetworkDisabled: true,
    Labels: { ...opts.labels, ...sandboxLabels },
    HostConfig: {
      NetworkMode: sandboxSpec.network,
      ReadonlyRootfs: sandboxSpec.readOnlyRootFilesystem,
      Tmpfs: { [sandboxSpec.tmpfs.path]: `rw,noexec,nosuid,nodev,size=${sandboxSpec.tmpfs.sizeBytes}` },
      Memory: sandboxSpec.memory.bytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: sandboxSpec.memory.bytes,
      NanoCpus: sandboxSpec.cpu.cores * 1e9,
      PidsLimit: sandboxSpec.pidsLimit,
      CapDrop: [...sandboxSpec.capDrop],
      SecurityOpt: sandboxSpec.noNewPrivileges ? ["no-new-privileges"] : [],
      Privileged: false,
      AutoRemove: true,
      IpcMode: "private",
      ...(opts.runtime ? { Runtime: opts.runtime } : {}),
    },
  };
}
