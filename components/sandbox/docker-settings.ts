import { buildSandboxContainer, type SandboxContainerConfig } from "../../app/src/sandbox/docker/container-spec";

/**
 * The Docker Engine `ContainerCreate` body of a sandbox run, from the worker's docker driver
 * itself (its constraints come from the contract). Docker sandboxes are started at run time by
 * the worker, not declared by Pulumi, so the dev stack exports this to make them visible.
 */
export function sandboxDockerSettings(image: string): SandboxContainerConfig {
  return buildSandboxContainer({ image, argv: ["python3"], withStdin: false });
}

export type SandboxDockerSettings = SandboxContainerConfig;
