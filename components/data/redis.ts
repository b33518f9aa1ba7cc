import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract";
import { STACK_SECRET_NAME, stackSecretKeys } from "../platform/secrets";
import { deployService, type DeployedService, type Platform, type ResourceSpec, type ServiceSpec } from "../service";

export interface RedisArgs {
  readonly platform: Platform;
  /** Image reference; default config `apex:images.redis` = "redis:7-alpine". */
  readonly image: string;
  readonly resources: ResourceSpec;
}

/** uid of `redis` and gid of `redis` in the official alpine image. */
const REDIS_USER = { uid: 999, gid: 1000 };
const rd = services.redis;

/** Env var (from `apex-secrets`) holding the password clients AUTH with. */
const PASSWORD_ENV = "REDIS_PASSWORD";

/**
 * Starts redis-server with `requirepass` read from stdin (`redis-server -`), so the password is
 * in neither the spec nor the process's arguments. Persistence off: Apex keeps nothing durable in
 * Redis (rate limits, breaker state, event fan-out), /data is scratch space.
 */
const serve = [
  `exec redis-server - --port ${rd.port} --save "" --appendonly no <<EOF`,
  `requirepass $${PASSWORD_ENV}`,
  "EOF",
].join("\n");

/** redis-cli exits 0 on an error reply (NOAUTH included), so the probe looks for PONG. */
const ping = `REDISCLI_AUTH="$${PASSWORD_ENV}" redis-cli -h 127.0.0.1 -p ${rd.port} ping | grep -q PONG`;

/** Redis as a ServiceSpec: password from `apex-secrets`, no persistence. */
export function redisSpec(args: Omit<RedisArgs, "platform">): ServiceSpec {
  return {
    name: rd.name,
    component: "cache",
    image: args.image,
    command: ["sh", "-c"],
    args: [serve],
    ports: [{ name: "redis", port: rd.port, appProtocol: "tcp" }],
    secretEnv: { [PASSWORD_ENV]: { secret: STACK_SECRET_NAME, key: stackSecretKeys.redisPassword } },
    resources: args.resources,
    probes: {
      readiness: { exec: { command: ["sh", "-c", ping] }, initialDelaySeconds: 2, periodSeconds: 5 },
      liveness: { tcp: { port: rd.port }, initialDelaySeconds: 10, periodSeconds: 10 },
    },
    dockerHealthcheck: ["CMD-SHELL", ping],
    scaling: { replicas: 1 },
    user: REDIS_USER,
    volumes: [{ kind: "tmp", name: "data", mountPath: "/data", sizeLimit: "64Mi" }],
  };
}

/** The stack's Redis 7 and how to reach it. */
export class Redis extends pulumi.ComponentResource {
  public readonly service: DeployedService;
  public readonly host: string;
  public readonly port: number = rd.port;
  /** URL without the password (outputs); the runtime's REDIS_URL, with it, is in `apex-secrets`. */
  public readonly url: string;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:data:Redis", name, {}, opts);
    this.service = deployService(`${name}-server`, redisSpec(args), args.platform, { parent: this });
    this.host = this.service.host;
    this.url = `redis://${this.host}:${this.port}`;
    this.registerOutputs({ host: this.host, port: this.port, url: this.url });
  }
}
