import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/**
 * Build context: the repository root (npm workspaces share the root lockfile), relative to the
 * project directory Pulumi runs in, so state does not depend on where the repo is checked out.
 */
export const BUILD_CONTEXT = ".";
/** The runtime's Dockerfile, relative to the project directory. */
export const RUNTIME_DOCKERFILE = "app/Dockerfile";

export interface RuntimeImageArgs {
  /** Repository without tag, e.g. "apex/runtime" (dev) or "ghcr.io/acme/apex-runtime" (prod). */
  readonly repository: string;
  readonly tag: string;
  /** Push to `registry` and reference the pushed digest (prod); otherwise build locally only. */
  readonly push: boolean;
  /** Target platform of the build, e.g. "linux/amd64". Default: the engine's. */
  readonly platform?: string;
  readonly registry?: { readonly server: string; readonly username: string; readonly password: pulumi.Input<string> };
}

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
    this.image = new docker.Image(`${name}-build`, {
      imageName: `${args.repository}:${args.tag}`,
      build: {
        context: BUILD_CONTEXT,
        dockerfile: RUNTIME_DOCKERFILE,
        platform: args.platform,
        builderVersion: "BuilderBuildKit",
      },
      skipPush: !args.push,
      registry: args.push && args.registry
        ? { server: args.registry.server, username: args.registry.username, password: pulumi.secret(args.registry.password) }
        : undefined,
    }, { parent: this });
    this.ref = args.push ? this.image.repoDigest : this.image.imageName;
    this.registerOutputs({ ref: this.ref });
  }
}
