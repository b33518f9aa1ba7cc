import { sandboxSpec } from "../../app/src/contract";

/**
 * The sandbox constraints in the Docker Engine API's terms (container create: `User` plus
 * `HostConfig`), derived from the contract the worker's docker driver also reads. The dev stack
 * exports them so the constraints are visible where the containers are not: Docker sandboxes are
 * started at run time by the worker, not declared by Pulumi.
 */
export function sandboxDockerSettings(image: string) {
  const { uid, gid } = sandboxSpec.user;
  return {
    Image: image,
    User: `${uid}:${gid}`,
    WorkingDir: sandboxSpec.workdir,
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
    },
  };
}

export type SandboxDockerSettings = ReturnType<typeof sandboxDockerSettings>;
