import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RegistryCredentials } from "../registry/ecr";

/**
 * Build context: the repository root (npm workspaces share the root lockfile), relative to the
 * project directory Pulumi runs in, so state does not depend on where the repo is checked out.
 */
export const BUILD_CONTEXT = ".";
/** The runtime's Dockerfile, relative to the project directory. */
export const RUNTIME_DOCKERFILE = "app/Dockerfile";

export interface RuntimeImageArgs {
  /** Repository without tag: "apex/runtime" (dev), an ECR repository URL or "ghcr.io/acme/apex-runtime" (prod). */
  readonly repository: pulumi.Input<string>;
  /** The git commit in prod (immutable repositories take each tag once); "dev" in dev. */
  readonly tag: string;
  /** Push to `registry` and reference the pushed digest (prod); otherwise build locally only. */
  readonly push: boolean;
  /** Target platform of the build, e.g. "linux/amd64". Default: the engine's. */
  readonly platform?: string;
  readonly registry?: RegistryCredentials;
}

/** docker.Image's registry input: server and username in plain state, the password only as a secret. */
export const pushRegistry = (push: boolean, registry: RegistryCredentials | undefined): docker.types.input.Registry | undefined =>
  push && registry ? { server: registry.server, username: registry.username, password: pulumi.secret(registry.password) } : undefined;

/**
 * The apex-api/apex-worker image, built from app/Dockerfile with the repository root as context.
 * `ref` is what workloads run: the pushed `repo@sha256:...` digest when pushed (so a rebuild rolls
 * the Deployments), the local `repo:tag` otherwise.
 */
export class RuntimeImage extends pulumi.ComponentResource {
  public readonly image: docker.Image;
  public readonly ref: pulumi.Output<string>;

  constructor(name: string, args: RuntimeImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:runtime:RuntimeImage", name, {}, opts);
    if (args.push && !args.registry) throw new Error("RuntimeImage: push needs a registry");
    if (args.tag === "latest") throw new Error('RuntimeImage: the tag must name one build, not "latest"');
    this.image = new docker.Image(`${name}-build`, {
      imageName: pulumi.interpolate`${args.repository}:${args.tag}`,
      build: {
        context: BUILD_CONTEXT,
        dockerfile: RUNTIME_DOCKERFILE,
        platform: args.platform,
        builderVersion: "BuilderBuildKit",
      },
      skipPush: !args.push,
      registry: pushRegistry(args.push, args.registry),
    }, { parent: this });
    this.ref = args.push ? this.image.repoDigest : this.image.imageName;
    this.registerOutputs({ ref: this.ref });
  }
}

/** RuntimeImage's arguments from `apex:images.runtime` (tag resolved by config/images.ts) and the image target. */
export function runtimeImageArgs(
  runtime: { readonly tag?: string; readonly push: boolean; readonly platform?: string },
  target: { readonly repository: pulumi.Input<string>; readonly registry?: RegistryCredentials },
): RuntimeImageArgs {
  // config/images.ts refuses a prod stack without a tag; dev defaults to "dev".
  if (runtime.tag === undefined) throw new Error("RuntimeImage: apex:images.runtime.tag is not set");
  return { repository: target.repository, tag: runtime.tag, push: runtime.push, platform: runtime.platform, registry: target.registry };
}
