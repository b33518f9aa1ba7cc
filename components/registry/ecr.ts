import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { keepOptions, type Protection } from "../platform/protection";

/** Credentials docker.Image pushes with; the password is a Pulumi secret. */
export interface RegistryCredentials {
  readonly server: pulumi.Input<string>;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

/** Lifecycle of every repository: how long untagged images stay, how many tagged ones are kept. */
export interface EcrLifecycle {
  readonly untaggedExpiryDays: number;
  readonly keepTaggedImages: number;
}

export interface EcrRegistryArgs {
  /** Repository names, by a short key the caller looks them up with: `{ runtime: "apex/runtime" }`. */
  readonly repositories: Readonly<Record<string, string>>;
  readonly scanOnPush: boolean;
  /** KMS (with `kmsKeyArn`, default the AWS-managed `aws/ecr` key) or AES256. */
  readonly encryption: { readonly type: "KMS" | "AES256"; readonly kmsKeyArn?: string };
  readonly lifecycle: EcrLifecycle;
  /** `apex:protection`: a repository's deletion loses every image the cluster runs by digest. */
  readonly protection: Protection;
  /** AWS provider (region, account guard). Default: the ambient one. */
  readonly provider?: aws.Provider;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * ECR lifecycle policy: untagged images (what a push leaves behind) expire after
 * `untaggedExpiryDays`; of the tagged images (one per commit) the newest `keepTaggedImages` stay.
 */
export function lifecyclePolicyDocument(l: EcrLifecycle): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `expire untagged images ${l.untaggedExpiryDays} days after their push`,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: l.untaggedExpiryDays },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `keep the newest ${l.keepTaggedImages} tagged images`,
        selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: l.keepTaggedImages },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * The stack's ECR repositories (scan on push, immutable tags, encrypted, lifecycle policy, never
 * force-deleted) and the push credentials from `aws.ecr.getAuthorizationToken` for their registry.
 */
export class EcrRegistry extends pulumi.ComponentResource {
  public readonly repositories: Readonly<Record<string, aws.ecr.Repository>>;
  /** Push credentials (the password a secret; the token is valid 12 hours, fetched on every run). */
  public readonly credentials: RegistryCredentials;

  constructor(name: string, args: EcrRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:registry:EcrRegistry", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const repositories: Record<string, aws.ecr.Repository> = {};
    for (const [key, repositoryName] of Object.entries(args.repositories)) {
      const repository = new aws.ecr.Repository(`${name}-${key}`, {
        name: repositoryName,
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: args.scanOnPush },
        encryptionConfigurations: [{ encryptionType: args.encryption.type, kmsKey: args.encryption.type === "KMS" ? args.encryption.kmsKeyArn : undefined }],
        forceDelete: false,
        tags: args.tags,
      }, { ...child, ...keepOptions(args.protection) });
      new aws.ecr.LifecyclePolicy(`${name}-${key}-lifecycle`, {
        repository: repository.name,
        policy: lifecyclePolicyDocument(args.lifecycle),
      }, child);
      repositories[key] = repository;
    }
    this.repositories = repositories;

    const first = Object.values(repositories)[0];
    if (first === undefined) throw new Error("EcrRegistry: no repositories");
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: first.registryId }, { parent: this, provider: args.provider });
    this.credentials = {
      // The registry host: what every repository URL starts with.
      server: first.repositoryUrl.apply((url) => url.split("/")[0] ?? url),
      username: token.userName,
      password: pulumi.secret(token.password),
    };
    this.registerOutputs({ repositoryUrls: Object.fromEntries(Object.entries(repositories).map(([k, r]) => [k, r.repositoryUrl])) });
  }
}
