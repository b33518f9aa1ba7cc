import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract";
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

/**
 * Redis as a ServiceSpec. Apex keeps nothing durable in Redis (rate limits, breaker state, event
 * fan-out), so persistence is off and /data is scratch space.
 */
export function redisSpec(args: Omit<RedisArgs, "platform">): ServiceSpec {
  const ping = ["redis-cli", "-h", "127.0.0.1", "-p", String(rd.port), "ping"];
  return {
    name: rd.name,
    component: "cache",
    image: args.image,
    args: ["redis-server", "--port", String(rd.port), "--save", "", "--appendonly", "no", "--protected-mode", "no"],
    ports: [{ name: "redis", port: rd.port, appProtocol: "tcp" }],
    resources: args.resources,
    probes: {
      readiness: { exec: { command: ping }, initialDelaySeconds: 2, periodSeconds: 5 },
      liveness: { tcp: { port: rd.port }, initialDelaySeconds: 10, periodSeconds: 10 },
    },
    dockerHealthcheck: ["CMD", ...ping],
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
  public readonly url: string;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:data:Redis", name, {}, opts);
    this.service = deployService(`${name}-server`, redisSpec(args), args.platform, { parent: this });
    this.host = this.service.host;
    this.url = `redis://${this.host}:${this.port}`;
    this.registerOutputs({ host: this.host, port: this.port, url: this.url });
  }
}
