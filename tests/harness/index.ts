/**
 * Stack harness: runs the whole Pulumi program (index.ts) for a stack under
 * `pulumi.runtime.setMocks` and returns every resource it registered. No engine, cluster or
 * Docker daemon is involved.
 *
 * API
 * ---
 *   const run = await runStack({ stack: "prod" });
 *   run.resources              // RecordedResource[] in registration order
 *   run.ofType("kubernetes:apps/v1:Deployment")      // all of a type token
 *   run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === "apex-api")
 *   run.outputs                // the stack outputs, resolved (secret outputs unwrapped)
 *   run.secretOutputs          // names of the outputs that are Pulumi secrets
 *   run.secretValues           // every secret plaintext fed to the run (config + generated)
 *   run.dependenciesOf(r)      // resources `r` waits for (dependsOn + input dependencies)
 *   r.deleteBeforeReplace      // the resource option, as the engine would receive it
 *   r.protect, r.retainOnDelete  // likewise (false when unset)
 *   run.invokes                // every provider function the program called: { token, inputs }
 *
 * RecordedResource: `type` (type token), `name` (logical name), `urn`, `parentUrn`, `custom`,
 * `inputs` (with secret values visible, for wiring asserts) and `plainInputs` (every secret
 * subtree replaced by the string "[secret]": what lands in plain state).
 *
 * Options:
 *   stack       "dev" | "prod" (or any name; then pass apex:environment in `config`)
 *   config      `apex` keys without the prefix, overriding Pulumi.<stack>.yaml; objects are
 *               deep-merged over the file's value, `undefined` removes a key
 *   secrets     secret `apex` keys -> plaintext; `secure:` entries of the stack file that are not
 *               given here get a recognisable generated value
 *   stackFile   false: start from an empty config instead of Pulumi.<stack>.yaml (plus the
 *               OPERATOR_SET_CONFIG keys the committed file leaves to the operator)
 *   program     a function to run instead of index.ts (component tests: build a few components
 *               with `new ...` inside it); what it returns becomes `outputs`
 *   stackReferences  outputs of the stacks a `pulumi.StackReference` reads, by stack name
 *
 * AWS under mocks: invokes (getAuthorizationToken, getCallerIdentity, getRegion...) and the
 * provider-computed attributes the program reads (RDS address, ElastiCache endpoint, ECR URL) get
 * deterministic values in account MOCK_AWS.accountId, region MOCK_AWS.region.
 *
 * The mock runtime is process-global: runs are serialised, and each test file keeps vitest's
 * per-file isolation. Config errors reject the returned promise with the ConfigError.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, parseDocument } from "yaml";
import { TEST_CLUSTER_CA, TEST_KUBERNETES_HOST } from "./cluster-ca";
export { TEST_CLUSTER_CA, TEST_KUBERNETES_HOST } from "./cluster-ca";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly parentUrn: string;
  readonly custom: boolean;
  /** Inputs as the provider would receive them, secrets unwrapped. */
  readonly inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Inputs with every secret value replaced by "[secret]". */
  readonly plainInputs: Record<string, unknown>;
  /** URNs this resource depends on. */
  readonly dependencies: readonly string[];
  /** The `deleteBeforeReplace` resource option (false when unset). */
  readonly deleteBeforeReplace: boolean;
  /** The `protect` resource option (false when unset): `pulumi destroy` stops on it. */
  readonly protect: boolean;
  /** The `retainOnDelete` resource option (false when unset): a delete leaves the cloud object in place. */
  readonly retainOnDelete: boolean;
}

/** A provider function the program invoked. */
export interface RecordedInvoke {
  readonly token: string;
  readonly inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface StackRun {
  readonly stack: string;
  readonly resources: readonly RecordedResource[];
  readonly outputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Top-level output names whose value is a Pulumi secret (encrypted in state, hidden by the CLI). */
  readonly secretOutputs: readonly string[];
  readonly secretValues: readonly string[];
  readonly invokes: readonly RecordedInvoke[];
  ofType(type: string): RecordedResource[];
  one(type: string, where?: (r: RecordedResource) => boolean): RecordedResource;
  dependenciesOf(r: RecordedResource): RecordedResource[];
}

export interface RunStackOptions {
  readonly stack: string;
  /** Run this instead of index.ts (component tests); its return value becomes the outputs. */
  readonly program?: () => unknown;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly stackFile?: boolean;
  /** Outputs of referenced stacks (`new pulumi.StackReference(name)`), by stack name. */
  readonly stackReferences?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const SECRET_PLACEHOLDER = "[secret]";
const SIG = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

let queue: Promise<unknown> = Promise.resolve();

/** Runs the program for one stack; see the module comment. */
export function runStack(options: RunStackOptions): Promise<StackRun> {
  const run = queue.then(() => runOnce(options));
  queue = run.catch(() => undefined);
  return run;
}

/** The stack file's `apex:` config: key (no prefix) -> value, `secure:` entries as `{ secure }`. */
export function readStackFile(stack: string): Record<string, unknown> {
  const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return {};
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) if (k.startsWith("apex:")) out[k.slice(5)] = v;
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isSecure = (v: unknown): v is { secure: string } => isObject(v) && typeof v.secure === "string" && Object.keys(v).length === 1;

function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete out[k];
    else out[k] = merge(base[k], v);
  }
  return out;
}

/** Removes the RPC secret wrappers: keeping the values, or replacing each secret subtree by "[secret]". */
function unwrapSecrets(v: unknown, replace: boolean): unknown {
  if (Array.isArray(v)) return v.map((e) => unwrapSecrets(e, replace));
  if (!isObject(v)) return v;
  if (v[SIG] === SECRET_SIG) return replace ? SECRET_PLACEHOLDER : unwrapSecrets(v.value, false);
  if (SIG in v) return v;
  return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, unwrapSecrets(e, replace)]));
}

/** The AWS account and region every mocked AWS value belongs to. */
export const MOCK_AWS = { accountId: "123456789012", region: "eu-west-1", partition: "aws" } as const;
const awsArn = (service: string, resource: string) => `arn:aws:${service}:${MOCK_AWS.region}:${MOCK_AWS.accountId}:${resource}`;
const ecrRegistry = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`;
const hexOf = (text: string, length: number) => Buffer.from(text).toString("hex").padEnd(length, "0").slice(0, length);

/** Results of the provider functions the program invokes; anything else echoes its inputs. */
function mockInvoke(token: string, inputs: Record<string, any>): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (token) {
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return {
        id: MOCK_AWS.region,
        authorizationToken: Buffer.from("AWS:mock-ecr-password").toString("base64"),
        userName: "AWS",
        password: "mock-ecr-password",
        proxyEndpoint: `https://${inputs.registryId ?? MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`,
        expiresAt: "2099-01-01T00:00:00Z",
      };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { id: MOCK_AWS.accountId, accountId: MOCK_AWS.accountId, arn: `arn:aws:iam::${MOCK_AWS.accountId}:user/ci`, userId: "AIDAMOCK" };
    case "aws:index/getRegion:getRegion":
      return { id: MOCK_AWS.region, name: MOCK_AWS.region, region: MOCK_AWS.region, endpoint: `ec2.${MOCK_AWS.region}.amazonaws.com`, description: "Europe (Ireland)" };
    case "aws:index/getPartition:getPartition":
      return { id: MOCK_AWS.partition, partition: MOCK_AWS.partition, dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
    default:
      return inputs;
  }
}

/** Provider-computed outputs the program reads, with deterministic mock values. */
function mockState(type: string, name: string, inputs: Record<string, any>, stackReferences: RunStackOptions["stackReferences"]): Record<string, unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (type) {
    case "pulumi:pulumi:StackReference": {
      const stack = String(inputs.name ?? name);
      const outputs = stackReferences?.[stack];
      if (outputs === undefined) throw new Error(`StackReference "${stack}": the test gave no outputs for it (runStack's stackReferences)`);
      return { name: stack, outputs, secretOutputNames: [] };
    }
    case "aws:rds/instance:Instance": {
      const address = `${inputs.identifier ?? name}.c${hexOf(name, 11)}.${MOCK_AWS.region}.rds.amazonaws.com`;
      const port = Number(inputs.port ?? 5432);
      return {
        ...inputs, address, port, endpoint: `${address}:${port}`, arn: awsArn("rds", `db:${inputs.identifier ?? name}`),
        ...(inputs.manageMasterUserPassword ? { masterUserSecrets: [{ secretArn: awsArn("secretsmanager", `secret:rds!db-${hexOf(name, 8)}`), secretStatus: "active", kmsKeyId: inputs.masterUserSecretKmsKeyId ?? "" }] } : {}),
      };
    }
    case "aws:elasticache/replicationGroup:ReplicationGroup": {
      const id = String(inputs.replicationGroupId ?? name);
      return {
        ...inputs, arn: awsArn("elasticache", `replicationgroup:${id}`), port: Number(inputs.port ?? 6379),
        primaryEndpointAddress: `master.${id}.${hexOf(id, 6)}.euw1.cache.amazonaws.com`,
        readerEndpointAddress: `replica.${id}.${hexOf(id, 6)}.euw1.cache.amazonaws.com`,
      };
    }
    case "aws:ecr/repository:Repository":
      return { ...inputs, arn: awsArn("ecr", `repository/${inputs.name ?? name}`), registryId: MOCK_AWS.accountId, repositoryUrl: `${ecrRegistry}/${inputs.name ?? name}` };
    // Autonamed: the provider gives them the logical name plus a suffix; instances refer to them by it.
    case "aws:rds/parameterGroup:ParameterGroup":
    case "aws:rds/subnetGroup:SubnetGroup":
    case "aws:elasticache/subnetGroup:SubnetGroup":
      return { ...inputs, name: inputs.name ?? `${name}-mock`, arn: awsArn(type.split(/[:/]/)[1] ?? "aws", name) };
    case "aws:kms/key:Key":
      return { ...inputs, arn: awsArn("kms", `key/${hexOf(name, 8)}-mock`), keyId: `${hexOf(name, 8)}-mock` };
    case "aws:ec2/securityGroup:SecurityGroup":
      return { ...inputs, arn: awsArn("ec2", `security-group/sg-${hexOf(name, 17)}`) };
    case "docker:index/image:Image": {
      const imageName = String(inputs.imageName);
      const repo = imageName.replace(/:[^/:]+$/, "");
      const digest = Buffer.from(imageName).toString("hex").padEnd(64, "0").slice(0, 64);
      return { ...inputs, imageName, baseImageName: imageName, repoDigest: `${repo}@sha256:${digest}` };
    }
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `sha256:${Buffer.from(String(inputs.name)).toString("hex").padEnd(64, "0").slice(0, 64)}`, repoDigest: `${inputs.name}` };
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: `generated-${name}-${"x".repeat(Number(inputs.length ?? 16))}`.slice(0, Math.max(Number(inputs.length ?? 16), 24)) };
    default:
      return type.startsWith("aws:") ? { arn: awsArn(type.split(/[:/]/)[1] ?? "aws", name), ...inputs } : inputs;
  }
}

/** A recognisable stand-in for a `secure:` entry; URL-typed keys (`...Url`) get a URL, as config requires. */
const generatedSecret = (key: string, stack: string): string =>
  /Url$/.test(key) ? `https://test-secret.invalid/${key}-${stack}-0123456789` : `test-secret-${key}-${stack}-0123456789`;

/** apex:images.runtime.tag of the prod test runs: a git commit, as the CI passes it. */
export const PROD_IMAGE_TAG = "3f9c2a7e5b1d4c8a9e0f6b2d7a1c5e8f4b3d9a60";

/** apex:observability.images.grafana of the prod test runs: the dashboards' Grafana, by a test digest. */
export const PROD_GRAFANA_IMAGE = `grafana/grafana:10.2.3@sha256:${"0123456789abcdef".repeat(4)}`;

/** apex:observability.runbookBaseUrl of the prod test runs. */
export const PROD_RUNBOOK_BASE_URL = "https://git.ops.internal/platform/apex/-/blob/main/docs/runbooks";

/**
 * Keys a committed stack file leaves to the operator on purpose (no placeholder may stand in for
 * them), set explicitly for every run of that stack so tests start from a deployable config. A
 * test removes one with `config: { ...: undefined }` to see the error naming it.
 */
export const OPERATOR_SET_CONFIG: Readonly<Record<string, Record<string, unknown>>> = {
  prod: {
    // Grafana 10.2.3 (the dashboards' target) by a digest only a registry can tell: a test value here.
    observability: { runbookBaseUrl: PROD_RUNBOOK_BASE_URL, images: { grafana: PROD_GRAFANA_IMAGE } },
    // The cluster's own API server address and CA, which Vault's Kubernetes auth needs.
    vault: { kubernetesHost: TEST_KUBERNETES_HOST, kubernetesCaCert: TEST_CLUSTER_CA },
    // The commit the images are tagged with; the CI passes it as APEX_IMAGE_TAG / GITHUB_SHA.
    images: { runtime: { tag: PROD_IMAGE_TAG } },
  },
};

/** readStackFile(stack) with OPERATOR_SET_CONFIG deep-merged over it: the config every stack run starts from. */
export const operatorStackConfig = (stack: string): Record<string, unknown> =>
  merge(readStackFile(stack), OPERATOR_SET_CONFIG[stack] ?? {}) as Record<string, unknown>;

/**
 * Writes Pulumi.<stack>.yaml with OPERATOR_SET_CONFIG set into `dir` (for the scripts, which read a
 * stack file: `npm run check -- --file <path>`); returns the copy's path.
 */
export function operatorStackFile(stack: string, dir: string): string {
  const doc = parseDocument(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  const setAll = (prefix: string[], value: unknown): void => {
    if (isObject(value)) for (const [k, v] of Object.entries(value)) setAll([...prefix, k], v);
    else doc.setIn(prefix, value);
  };
  for (const [key, value] of Object.entries(OPERATOR_SET_CONFIG[stack] ?? {})) setAll(["config", `apex:${key}`], value);
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, doc.toString());
  return file;
}

async function runOnce(options: RunStackOptions): Promise<StackRun> {
  const fileConfig = options.stackFile === false ? {} : operatorStackConfig(options.stack);
  const config = merge(fileConfig, options.config ?? {}) as Record<string, unknown>;
  const flat: Record<string, string> = {};
  const secretKeys: string[] = [];
  const secretValues: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (isSecure(value)) {
      const plain = options.secrets?.[key] ?? generatedSecret(key, options.stack);
      flat[`apex:${key}`] = plain;
      secretKeys.push(`apex:${key}`);
      secretValues.push(plain);
    } else {
      flat[`apex:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  for (const [key, plain] of Object.entries(options.secrets ?? {})) {
    if (`apex:${key}` in flat && secretKeys.includes(`apex:${key}`)) continue;
    flat[`apex:${key}`] = plain;
    secretKeys.push(`apex:${key}`);
    secretValues.push(plain);
  }

  const records: RecordedResource[] = [];
  const invokes: RecordedInvoke[] = [];
  const meta = new Map<string, RegistrationMeta>();
  await pulumi.runtime.setMocks({
    newResource(args) {
      const inputs = unwrapSecrets(args.inputs, false) as Record<string, unknown>;
      const plainInputs = unwrapSecrets(args.inputs, true) as Record<string, unknown>;
      const state = mockState(args.type, args.name, inputs, options.stackReferences);
      if (args.type === "random:index/randomPassword:RandomPassword" && typeof state.result === "string") secretValues.push(state.result);
      const key = `${args.type}::${args.name}`;
      const m = meta.get(key);
      records.push({
        type: args.type,
        name: args.name,
        urn: m?.urn ?? "",
        parentUrn: m?.parent ?? "",
        custom: args.custom ?? true,
        inputs,
        plainInputs,
        dependencies: m?.dependencies ?? [],
        deleteBeforeReplace: m?.deleteBeforeReplace ?? false,
        protect: m?.protect ?? false,
        retainOnDelete: m?.retainOnDelete ?? false,
      });
      const id = args.type === "aws:ec2/securityGroup:SecurityGroup" ? `sg-${hexOf(args.name, 17)}` : `${args.name}-id`;
      return { id, state };
    },
    call(args) {
      invokes.push({ token: args.token, inputs: unwrapSecrets(args.inputs, false) as Record<string, unknown> });
      return mockInvoke(args.token, args.inputs);
    },
  }, "apex", options.stack, false);
  captureRegistrations(meta);
  pulumi.runtime.setAllConfig(flat, secretKeys);

  const program = options.program ?? (await loadProgram());
  const evaluate = async () => {
    let rawOutputs: Record<string, unknown>;
    try {
      rawOutputs = ((await program()) ?? {}) as Record<string, unknown>;
    } catch (e) {
      // Let what registered before the failure drain, so it does not land on the next run's mocks.
      await waitForRPCs().catch(() => undefined);
      throw e;
    }
    const outputs = await new Promise<Record<string, unknown>>((resolve) => {
      pulumi.output(rawOutputs).apply((v) => resolve(v as Record<string, unknown>));
    });
    const secretOutputs: string[] = [];
    for (const [k, v] of Object.entries(rawOutputs)) {
      if (await isSecretOutput(v)) secretOutputs.push(k);
    }
    await waitForRPCs();
    return { outputs, secretOutputs };
  };
  const watch = watchUnhandledRejections();
  let evaluated: { outputs: Record<string, unknown>; secretOutputs: string[] };
  try {
    evaluated = await Promise.race([evaluate(), watch.failed]);
    // A failed registration nothing waits on is reported after the run settles: give it a turn.
    await new Promise((resolve) => setImmediate(resolve));
    if (watch.error) throw watch.error;
  } finally {
    watch.dispose();
  }
  const { outputs, secretOutputs } = evaluated;

  // URNs arrive with the registration response, after newResource recorded the resource.
  const resources = records.map((r) => {
    const m = meta.get(`${r.type}::${r.name}`);
    return {
      ...r,
      urn: m?.urn ?? r.urn,
      parentUrn: m?.parent ?? r.parentUrn,
      dependencies: m?.dependencies ?? r.dependencies,
      deleteBeforeReplace: m?.deleteBeforeReplace ?? r.deleteBeforeReplace,
      protect: m?.protect ?? r.protect,
      retainOnDelete: m?.retainOnDelete ?? r.retainOnDelete,
    };
  });
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  return {
    stack: options.stack,
    resources,
    outputs,
    secretOutputs,
    secretValues,
    invokes,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(type, where) {
      const hits = resources.filter((r) => r.type === type && (where ? where(r) : true));
      if (hits.length !== 1) throw new Error(`expected exactly one ${type} matching, found ${hits.length}`);
      return hits[0] as RecordedResource;
    },
    dependenciesOf: (r) => r.dependencies.map((u) => byUrn.get(u)).filter((x): x is RecordedResource => x !== undefined),
  };
}

async function loadProgram(): Promise<() => unknown> {
  const mod = (await import("../../index")) as unknown as { default?: () => unknown } | (() => unknown);
  const program = typeof mod === "function" ? mod : mod.default;
  if (typeof program !== "function") throw new Error("index.ts must export the program function (export = apex)");
  return program;
}

/**
 * An exception inside an `apply` (e.g. while serialising a resource's inputs) surfaces only as an
 * unhandled rejection: the resource is silently missing from the run, or the run waits forever for
 * registrations that never finish. `failed` rejects with it, so the run fails with the program's
 * message instead of passing without the resource or timing out.
 */
function watchUnhandledRejections(): { failed: Promise<never>; readonly error?: Error; dispose(): void } {
  let onRejection: (reason: unknown) => void = () => undefined;
  const watch: { failed: Promise<never>; error?: Error; dispose(): void } = {
    failed: new Promise<never>((_, reject) => {
      onRejection = (reason) => {
        watch.error ??= reason instanceof Error ? reason : new Error(String(reason));
        reject(watch.error);
      };
    }),
    dispose: () => process.off("unhandledRejection", onRejection),
  };
  watch.failed.catch(() => undefined);
  process.on("unhandledRejection", onRejection);
  return watch;
}

/** Whether a stack output (plain value, Output, or object holding Outputs) is secret. */
async function isSecretOutput(value: unknown): Promise<boolean> {
  const out = pulumi.output(value) as unknown as { isSecret: Promise<boolean> };
  return out.isSecret;
}

/** The runtime's internal "wait until every queued RPC finished" (not in the public typings). */
async function waitForRPCs(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== "function") throw new Error("@pulumi/pulumi no longer exposes runtime.waitForRPCs");
  await runtime.waitForRPCs();
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getDeletebeforereplace(): boolean;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
}

interface RegistrationMeta { parent: string; dependencies: string[]; deleteBeforeReplace: boolean; protect: boolean; retainOnDelete: boolean; urn?: string }
type Callback = (err: unknown, resp?: { getUrn(): string }) => void;

/** Wraps the mock monitor to keep what setMocks' callback does not see: parent, dependencies, URN. */
function captureRegistrations(meta: Map<string, RegistrationMeta>): void {
  const runtime = pulumi.runtime as unknown as { getMonitor(): { registerResource(req: RegisterRequest, cb: Callback): void } };
  const monitor = runtime.getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const key = `${req.getType()}::${req.getName()}`;
    const entry: RegistrationMeta = {
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      protect: req.getProtect() ?? false,
      retainOnDelete: req.getRetainondelete() ?? false,
    };
    meta.set(key, entry);
    original(req, (err, resp) => {
      if (resp) entry.urn = resp.getUrn();
      cb(err, resp);
    });
  };
}
