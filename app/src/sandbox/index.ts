/** The sandbox drivers behind one factory; the worker picks one with APEX_SANDBOX_DRIVER. */
import { DockerSandboxDriver, type DockerSandboxOptions } from "./docker/driver";
import { KubernetesSandboxDriver, type KubernetesSandboxOptions } from "./kubernetes/driver";
import { LocalSandboxDriver, type LocalSandboxOptions } from "./local/driver";
import type { SandboxDriver } from "./types";

export type SandboxDriverName = SandboxDriver["name"];

export interface SandboxDriverOptions {
  local: LocalSandboxOptions;
  docker: DockerSandboxOptions;
  kubernetes: KubernetesSandboxOptions;
}

export function createSandboxDriver(name: "local", opts?: LocalSandboxOptions): LocalSandboxDriver;
export function createSandboxDriver(name: "docker", opts?: DockerSandboxOptions): DockerSandboxDriver;
export function createSandboxDriver(name: "kubernetes", opts: KubernetesSandboxOptions): KubernetesSandboxDriver;
export function createSandboxDriver<N extends SandboxDriverName>(name: N, opts: SandboxDriverOptions[N]): SandboxDriver;
export function createSandboxDriver(name: SandboxDriverName, opts?: SandboxDriverOptions[SandboxDriverName]): SandboxDriver {
  switch (name) {
    case "local":
      return new LocalSandboxDriver(opts as LocalSandboxOptions | undefined);
    case "docker":
      return new DockerSandboxDriver(opts as DockerSandboxOptions | undefined);
    case "kubernetes":
      if (!opts || !("image" in opts) || !opts.image) throw new TypeError('sandbox driver "kubernetes" needs options.image (the sandbox image reference)');
      return new KubernetesSandboxDriver(opts as KubernetesSandboxOptions);
    default:
      throw new TypeError(`unknown sandbox driver "${String(name)}": expected local, docker or kubernetes`);
  }
}

export { buildSandboxPod, sandboxPodLabels, type SandboxPod, type SandboxPodOptions } from "./pod-template";
export { buildSandboxContainer, type SandboxContainerConfig } from "./docker/container-spec";
export { DockerSandboxDriver, KubernetesSandboxDriver, LocalSandboxDriver };
export type { DockerSandboxOptions, KubernetesSandboxOptions, LocalSandboxOptions };
export { SandboxError } from "./errors";
export type { AppliedLimits, SandboxDriver, SandboxRequest, SandboxResult } from "./types";
