/* eslint-disable @typescript-eslint/no-explicit-any */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sandboxSpec } from "../app/src/contract";
import { evaluatePolicies } from "../policy/lib/evaluate";
import type { PlainResource } from "../policy/lib/resource";
import { prodImagesPinnedByDigest } from "../policy/rules/images";
import { MOCK_AWS, PROD_IMAGE_TAG, runStack, type RecordedResource, type StackRun } from "./harness";

const ECR_HOST = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`;
const MOCK_ECR_PASSWORD = "mock-ecr-password";
const DIGEST = /@sha256:[a-f0-9]{64}$/;
const SANDBOX_REPOSITORY = `apex/${sandboxSpec.image}`;

const repository = (run: StackRun, name: string): RecordedResource =>
  run.one("aws:ecr/repository:Repository", (r) => r.inputs.name === name);
const lifecycleOf = (run: StackRun, repo: RecordedResource): any =>
  JSON.parse(run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy", (r) => r.parentUrn === repo.parentUrn && r.inputs.repository === repo.inputs.name).inputs.policy);
const imageBuiltFrom = (run: StackRun, dockerfile: string): RecordedResource =>
  run.one("docker:index/image:Image", (r) => r.inputs.build?.dockerfile === dockerfile);
const podContainers = (r: RecordedResource): any[] => {
  const pod = r.inputs.spec?.template?.spec ?? r.inputs.spec?.jobTemplate?.spec?.template?.spec;
  return [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])];
};
const workloadTypes = ["Deployment", "StatefulSet", "DaemonSet"].map((k) => `kubernetes:apps/v1:${k}`).concat(["kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"]);
const asPolicyResources = (run: StackRun): PlainResource[] => run.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs }));
/** The problems of a run that stopped on its config, as "key: message" lines. */
const configProblems = async (options: Parameters<typeof runStack>[0]): Promise<string[]> => {
  const error: any = await runStack(options).then(() => undefined, (e: unknown) => e);
  expect(error?.problems, "the run was expected to stop on its config").toBeDefined();
  return error.problems.map((p: { key: string; message: string }) => `${p.key}: ${p.message}`);
};

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("prod images on ECR", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "prod" });
  });

  it("creates one ECR repository per image: scan on push, immutable tags, KMS, never force-deleted, protected and retained", () => {
    expect(run.ofType("aws:ecr/repository:Repository").map((r) => r.inputs.name).sort()).toEqual(["apex/apex-dashboard", "apex/apex-sandbox", "apex/runtime"]);
    for (const name of ["apex/runtime", SANDBOX_REPOSITORY, "apex/apex-dashboard"]) {
      const repo = repository(run, name);
      expect(repo.inputs).toMatchObject({
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "KMS" }],
        forceDelete: false,
      });
      expect([repo.protect, repo.retainOnDelete], name).toEqual([true, true]);
    }
  });

  it("gives each repository a lifecycle policy: untagged images expire after 7 days, the newest 50 tagged images stay", () => {
    for (const name of ["apex/runtime", SANDBOX_REPOSITORY, "apex/apex-dashboard"]) {
      expect(lifecycleOf(run, repository(run, name)).rules).toEqual([
        expect.objectContaining({ rulePriority: 1, selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 }, action: { type: "expire" } }),
        expect.objectContaining({ rulePriority: 2, selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: 50 }, action: { type: "expire" } }),
      ]);
    }
  });

  it("pushes with credentials from aws.ecr.getAuthorizationToken, the password only as a secret", () => {
    const tokens = run.invokes.filter((i) => i.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken");
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    for (const t of tokens) expect(t.inputs.registryId).toBe(MOCK_AWS.accountId);
    for (const dockerfile of ["app/Dockerfile", "sandbox/Dockerfile", "console/Dockerfile"]) {
      const image = imageBuiltFrom(run, dockerfile);
      expect(image.inputs.registry).toEqual({ server: ECR_HOST, username: "AWS", password: MOCK_ECR_PASSWORD });
      expect(image.plainInputs.registry).toBe("[secret]");
      expect(image.inputs.skipPush).toBe(false);
    }
    for (const r of run.resources) expect(JSON.stringify(r.plainInputs), r.name).not.toContain(MOCK_ECR_PASSWORD);
    expect(JSON.stringify(run.outputs)).not.toContain(MOCK_ECR_PASSWORD);
  });

  it("tags both images with the commit in the ECR repositories", () => {
    expect(imageBuiltFrom(run, "app/Dockerfile").inputs.imageName).toBe(`${ECR_HOST}/apex/runtime:${PROD_IMAGE_TAG}`);
    expect(imageBuiltFrom(run, "sandbox/Dockerfile").inputs.imageName).toBe(`${ECR_HOST}/${SANDBOX_REPOSITORY}:${PROD_IMAGE_TAG}`);
  });

  it("runs every container, and the sandbox Pod template, by digest", () => {
    const workloads = workloadTypes.flatMap((t) => run.ofType(t));
    expect(workloads.length).toBeGreaterThan(5);
    for (const w of workloads) for (const c of podContainers(w)) expect(c.image, `${w.name}/${c.name}`).toMatch(DIGEST);
    expect(run.outputs.runtimeImage).toMatch(new RegExp(`^${ECR_HOST}/apex/runtime@sha256:[a-f0-9]{64}$`));
    expect(run.outputs.sandbox.image).toMatch(new RegExp(`^${ECR_HOST}/${SANDBOX_REPOSITORY}@sha256:[a-f0-9]{64}$`));
    const template = run.one("kubernetes:core/v1:ConfigMap", (r) => typeof r.inputs.data?.["pod.json"] === "string");
    expect(JSON.parse(template.inputs.data["pod.json"]).spec.containers[0].image).toBe(run.outputs.sandbox.image);
  });

  it("passes the digest policy, which fails the same stack with one tag-only third-party image", async () => {
    const resources = asPolicyResources(run);
    expect(await evaluatePolicies([prodImagesPinnedByDigest], resources)).toEqual([]);
    const tagOnly = resources.map((r): PlainResource => {
      if (!workloadTypes.includes(r.type) || !String(r.props.spec?.template?.spec?.containers?.[0]?.image).startsWith("grafana/grafana:")) return r;
      const spec = structuredClone(r.props.spec);
      spec.template.spec.containers[0].image = "grafana/grafana:10.2.3";
      return { ...r, props: { ...r.props, spec } };
    });
    const findings = await evaluatePolicies([prodImagesPinnedByDigest], tagOnly);
    expect(findings).toEqual([expect.objectContaining({ policy: "prod-images-pinned-by-digest", enforcementLevel: "mandatory", message: expect.stringContaining('image "grafana/grafana:10.2.3" is not pinned by digest') })]);
  });
});

describe("the runtime image tag", () => {
  const withoutTag = { images: { runtime: { tag: undefined } } };

  it("is required in prod: without apex:images.runtime.tag, APEX_IMAGE_TAG or GITHUB_SHA the config stops naming the key", async () => {
    vi.stubEnv("APEX_IMAGE_TAG", "");
    vi.stubEnv("GITHUB_SHA", "");
    expect(await configProblems({ stack: "prod", config: withoutTag })).toEqual([
      "apex:images.runtime.tag: required in prod: the git commit the images are built from; set it, or $APEX_IMAGE_TAG or $GITHUB_SHA in the environment (the CI passes its commit), got nothing",
    ]);
  });

  it("comes from APEX_IMAGE_TAG before GITHUB_SHA when the config has none", async () => {
    vi.stubEnv("APEX_IMAGE_TAG", "b".repeat(40));
    vi.stubEnv("GITHUB_SHA", "c".repeat(40));
    const run = await runStack({ stack: "prod", config: withoutTag });
    expect(imageBuiltFrom(run, "app/Dockerfile").inputs.imageName).toBe(`${ECR_HOST}/apex/runtime:${"b".repeat(40)}`);
    vi.stubEnv("APEX_IMAGE_TAG", "");
    const fromGithub = await runStack({ stack: "prod", config: withoutTag });
    expect(imageBuiltFrom(fromGithub, "sandbox/Dockerfile").inputs.imageName).toBe(`${ECR_HOST}/${SANDBOX_REPOSITORY}:${"c".repeat(40)}`);
  });

  it("is never latest, from the config or the environment", async () => {
    expect(await configProblems({ stack: "prod", config: { images: { runtime: { tag: "latest" } } } })).toEqual([
      'apex:images.runtime.tag: expected a tag naming one build such as the git commit (not "latest"), got "latest"',
    ]);
    vi.stubEnv("APEX_IMAGE_TAG", "latest");
    expect(await configProblems({ stack: "prod", config: withoutTag })).toEqual([
      'apex:images.runtime.tag: (from $APEX_IMAGE_TAG) expected a tag naming one build such as the git commit (not "latest"), got "latest"',
    ]);
  });

  it("keeps its dev default whatever the environment says", async () => {
    vi.stubEnv("GITHUB_SHA", "d".repeat(40));
    const run = await runStack({ stack: "dev" });
    expect(imageBuiltFrom(run, "app/Dockerfile").inputs).toMatchObject({ imageName: "apex/runtime:dev", skipPush: true });
    expect(run.ofType("aws:ecr/repository:Repository")).toEqual([]);
    expect(run.invokes.filter((i) => i.token.startsWith("aws:ecr/"))).toEqual([]);
  });
});

describe("third-party images in prod", () => {
  it("must be pinned by digest: each tag-only key is named", async () => {
    const problems = await configProblems({
      stack: "prod",
      config: { images: { postgres: "postgres:16-alpine" }, observability: { images: { grafana: "grafana/grafana:10.2.3" } } },
    });
    expect(problems).toEqual([
      'apex:images.postgres: expected an image pinned by digest in prod, such as "postgres:16-alpine@sha256:<64 hex>" (a tag can be re-pointed), got "postgres:16-alpine"',
      'apex:observability.images.grafana: expected an image pinned by digest in prod, such as "postgres:16-alpine@sha256:<64 hex>" (a tag can be re-pointed), got "grafana/grafana:10.2.3"',
    ]);
  });

  it("may stay tag-only in dev", async () => {
    const run = await runStack({ stack: "dev", config: { images: { postgres: "postgres:16-alpine" } } });
    expect(run.resources.length).toBeGreaterThan(0);
  });
});

describe("registry settings", () => {
  it("take the encryption, lifecycle counts and protection from config", async () => {
    const run = await runStack({
      stack: "prod",
      config: {
        registry: { ecr: { encryption: "AES256", untaggedExpiryDays: 3, keepTaggedImages: 10, scanOnPush: false } },
        protection: { protect: false, retainOnDelete: true },
      },
    });
    const repo = repository(run, "apex/runtime");
    expect(repo.inputs).toMatchObject({ encryptionConfigurations: [{ encryptionType: "AES256" }], imageScanningConfiguration: { scanOnPush: false } });
    expect(repo.inputs.encryptionConfigurations[0].kmsKey).toBeUndefined();
    expect([repo.protect, repo.retainOnDelete]).toEqual([false, true]);
    expect(lifecycleOf(run, repo).rules.map((r: any) => r.selection.countNumber)).toEqual([3, 10]);
  });

  it("pass a customer KMS key to every repository, and refuse one without KMS encryption", async () => {
    const key = `arn:aws:kms:${MOCK_AWS.region}:${MOCK_AWS.accountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const run = await runStack({ stack: "prod", config: { registry: { ecr: { kmsKeyArn: key } } } });
    for (const name of ["apex/runtime", SANDBOX_REPOSITORY, "apex/apex-dashboard"]) {
      expect(repository(run, name).inputs.encryptionConfigurations).toEqual([{ encryptionType: "KMS", kmsKey: key }]);
    }
    expect(await configProblems({ stack: "prod", config: { registry: { ecr: { encryption: "AES256", kmsKeyArn: key } } } })).toEqual([
      `apex:registry.ecr.kmsKeyArn: only with apex:registry.ecr.encryption "KMS", got "${key}"`,
    ]);
  });

  it("an ECR repository name carries no registry host", async () => {
    expect(await configProblems({ stack: "prod", config: { images: { runtime: { repository: "registry.example.com/apex/runtime" } } } })).toEqual([
      'apex:images.runtime.repository: expected an ECR repository name without a registry host such as "apex/runtime" (kind "ecr"), got "registry.example.com/apex/runtime"',
    ]);
  });

  it("kind external pushes to the configured registry with apex:registryPassword, and creates no ECR repository", async () => {
    const run = await runStack({
      stack: "prod",
      config: {
        registry: { kind: "external", server: "registry.example.com", username: "apex-ci" },
        images: { runtime: { repository: "registry.example.com/apex/runtime" } },
      },
      secrets: { registryPassword: "registry-KNOWN-t0k3n" },
    });
    expect(run.ofType("aws:ecr/repository:Repository")).toEqual([]);
    expect(run.invokes.filter((i) => i.token.startsWith("aws:ecr/"))).toEqual([]);
    const runtime = imageBuiltFrom(run, "app/Dockerfile");
    expect(runtime.inputs.imageName).toBe(`registry.example.com/apex/runtime:${PROD_IMAGE_TAG}`);
    expect(runtime.inputs.registry).toEqual({ server: "registry.example.com", username: "apex-ci", password: "registry-KNOWN-t0k3n" });
    expect(runtime.plainInputs.registry).toBe("[secret]");
    expect(imageBuiltFrom(run, "sandbox/Dockerfile").inputs.imageName).toBe(`registry.example.com/${SANDBOX_REPOSITORY}:${PROD_IMAGE_TAG}`);
  });
});
