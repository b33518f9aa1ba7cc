import { z } from "zod";
import { describeGiven, type ConfigProblem } from "./errors";
import { bool, imageReference, imageRepository, imageTag, nonEmptyText, oneOf, positiveInt, section } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection } from "./section";

/**
 * Environment variables the runtime image tag falls back to when `apex:images.runtime.tag` is
 * not set, in this order: the CI passes the commit it builds (`GITHUB_SHA` on GitHub Actions).
 */
export const IMAGE_TAG_ENVIRONMENT = ["APEX_IMAGE_TAG", "GITHUB_SHA"] as const;

/** A release tag: `latest` is refused, it names no build (and an immutable repository takes it once). */
const releaseTag = () =>
  imageTag().refine((t) => t !== "latest", { error: 'expected a tag naming one build such as the git commit (not "latest")' });

const kmsKeyArn = () => {
  const e = { error: 'expected a KMS key ARN such as "arn:aws:kms:eu-west-1:123456789012:key/..."' };
  return z.string(e).regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/\S+$/, e);
};

const runtimeImage = section({
  repository: imageRepository(),
  tag: releaseTag().optional(),
  push: bool(),
  platform: nonEmptyText().optional(),
}).transform((r) => ({ ...r, ...tagOf(r.tag, process.env) }));

/** Where the tag comes from: the config, else the first of IMAGE_TAG_ENVIRONMENT that is set. */
function tagOf(configured: string | undefined, env: NodeJS.ProcessEnv): { tag?: string; tagFrom?: string } {
  if (configured !== undefined) return { tag: configured, tagFrom: "apex:images.runtime.tag" };
  for (const name of IMAGE_TAG_ENVIRONMENT) {
    const value = env[name]?.trim();
    if (value) return { tag: value, tagFrom: `$${name}` };
  }
  return {};
}

/** ECR repositories the program creates (registry kind `ecr`). */
const ecrSettings = section({
  scanOnPush: bool(),
  /** KMS: the key `kmsKeyArn`, or the AWS-managed `aws/ecr` key when unset. */
  encryption: oneOf(["KMS", "AES256"]),
  kmsKeyArn: kmsKeyArn().optional(),
  /** Lifecycle: untagged images (superseded layers of a build) expire after this many days. */
  untaggedExpiryDays: positiveInt(),
  /** Lifecycle: the newest this many tagged images stay; older ones expire. */
  keepTaggedImages: positiveInt(),
});

/** Images: the runtime image Pulumi builds (and pushes in prod), the registry it goes to, the data stores' images. */
export const imageSections = {
  images: plainSection({
    description: "The runtime image (built from app/Dockerfile; pushed when `push`, tagged with the git commit: `tag`, else $APEX_IMAGE_TAG, else $GITHUB_SHA) and the Postgres/Redis images (by digest in prod).",
    schema: section({ runtime: runtimeImage, postgres: imageReference(), redis: imageReference() }),
    defaults: {
      all: { runtime: { repository: "apex/runtime" }, postgres: "postgres:16-alpine", redis: "redis:7-alpine" },
      dev: { runtime: { tag: "dev", push: false } },
      prod: { runtime: { push: true, platform: "linux/amd64" } },
    },
  }),
  registry: plainSection({
    description: "Registry the runtime and sandbox images are pushed to: `ecr` (repositories created here through @pulumi/aws, credentials from ECR) or `external` (`server`, `username` and the secret `apex:registryPassword`).",
    schema: section({
      kind: oneOf(["ecr", "external"]),
      server: nonEmptyText('a registry host such as "ghcr.io"').optional(),
      username: nonEmptyText().optional(),
      ecr: ecrSettings.optional(),
    }).optional(),
    defaults: {
      prod: { kind: "ecr", ecr: { scanOnPush: true, encryption: "KMS", untaggedExpiryDays: 7, keepTaggedImages: 50 } },
    },
  }),
} as const;

/** `repo:tag@sha256:<64 hex>` or `repo@sha256:...`: pinned to one image whatever the tag points at later. */
export const isDigestPinned = (ref: string): boolean => /@sha256:[a-f0-9]{64}$/.test(ref);

/** Third-party image keys of the stack, by config key: each must be pinned by digest in prod. */
export function thirdPartyImages(c: ApexConfig): [key: string, ref: string][] {
  return [
    ["apex:images.postgres", c.images.postgres],
    ["apex:images.redis", c.images.redis],
    ...Object.entries(c.observability.images).map(([name, ref]): [string, string] => [`apex:observability.images.${name}`, ref]),
  ];
}

/** Rules over the image and registry keys, with each other and with the environment. */
export function imageCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const runtime = c.images.runtime;
  const registry = c.registry;
  if (runtime.push) {
    if (registry === undefined) {
      problems.push({ key: "apex:registry", message: 'required when apex:images.runtime.push is true: expected { kind: "ecr" } or { kind: "external", server, username }, got nothing' });
    } else if (registry.kind === "external") {
      for (const field of ["server", "username"] as const) {
        if (registry[field] === undefined) problems.push({ key: `apex:registry.${field}`, message: 'required when apex:registry.kind is "external": expected a non-empty string, got nothing' });
      }
      if (registry.server !== undefined && !runtime.repository.startsWith(`${registry.server}/`)) {
        problems.push({ key: "apex:images.runtime.repository", message: `expected a repository on the registry "${registry.server}/...", got ${describeGiven(runtime.repository)}` });
      }
      if (c.registryPassword === undefined) {
        problems.push({ key: "apex:registryPassword", message: 'required when apex:registry.kind is "external": set it with `pulumi config set --secret apex:registryPassword <token>`, got nothing' });
      }
    } else {
      if (registry.ecr === undefined) problems.push({ key: "apex:registry.ecr", message: 'required when apex:registry.kind is "ecr": expected { scanOnPush, encryption, untaggedExpiryDays, keepTaggedImages }, got nothing' });
      for (const field of ["server", "username"] as const) {
        if (registry[field] !== undefined) problems.push({ key: `apex:registry.${field}`, message: `only with apex:registry.kind "external" (ECR's address and credentials come from AWS), got ${describeGiven(registry[field])}` });
      }
      // The repository is an ECR repository name; the registry host comes from the account and region.
      if (runtime.repository.split("/")[0]?.match(/[.:]/) || runtime.repository.split("/")[0] === "localhost") {
        problems.push({ key: "apex:images.runtime.repository", message: `expected an ECR repository name without a registry host such as "apex/runtime" (kind "ecr"), got ${describeGiven(runtime.repository)}` });
      }
    }
  }
  if (registry?.ecr?.kmsKeyArn !== undefined && registry.ecr.encryption !== "KMS") {
    problems.push({ key: "apex:registry.ecr.kmsKeyArn", message: `only with apex:registry.ecr.encryption "KMS", got ${describeGiven(registry.ecr.kmsKeyArn)}` });
  }
  if (runtime.tag === undefined) {
    if (c.environment === "prod") {
      problems.push({
        key: "apex:images.runtime.tag",
        message: `required in prod: the git commit the images are built from; set it, or ${IMAGE_TAG_ENVIRONMENT.map((n) => `$${n}`).join(" or ")} in the environment (the CI passes its commit), got nothing`,
      });
    }
  } else if (runtime.tagFrom?.startsWith("$")) {
    const parsed = releaseTag().safeParse(runtime.tag);
    if (!parsed.success) {
      problems.push({ key: "apex:images.runtime.tag", message: `(from ${runtime.tagFrom}) ${parsed.error.issues[0]?.message ?? "invalid"}, got ${describeGiven(runtime.tag)}` });
    }
  }
  if (c.environment === "prod") {
    for (const [key, ref] of thirdPartyImages(c)) {
      if (!isDigestPinned(ref)) {
        problems.push({ key, message: `expected an image pinned by digest in prod, such as "postgres:16-alpine@sha256:<64 hex>" (a tag can be re-pointed), got ${describeGiven(ref)}` });
      }
    }
  }
  return problems;
}
