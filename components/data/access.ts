/**
 * How the runtime reaches the data tier, whichever variant runs it (apex:dataStores, docs/aws.md):
 * DATABASE_URL and REDIS_URL carry their credentials and reach api and workers only as keys of
 * `apex-secrets` (secretKeyRef); what may be shown (host, port, user) is kept apart for outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { runtimeEnv, services } from "../../app/src/contract";
import type { NetworkFlow } from "../platform/network-flows";
import type { VolumeSpec } from "../service";

/** Keys of `apex-secrets` holding the connection URLs, named like the env vars they feed. */
export const dataStoreSecretKeys = { databaseUrl: runtimeEnv.databaseUrl, redisUrl: runtimeEnv.redisUrl } as const;

export type ConfigVolume = Extract<VolumeSpec, { kind: "config" }>;

export interface DataStoreAccess {
  /** Secret values for `apex-secrets`: DATABASE_URL and REDIS_URL, credentials inside. */
  readonly secretValues: Readonly<Record<string, pulumi.Output<string>>>;
  /** Where Postgres is, without credentials (outputs, postgres_exporter). */
  readonly postgres: {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly database: string;
    readonly user: string;
    readonly sslmode: "disable" | "verify-full";
    /** The URL without its password. */
    readonly url: pulumi.Input<string>;
  };
  readonly redis: { readonly host: pulumi.Input<string>; readonly port: pulumi.Input<number>; readonly tls: boolean; readonly url: pulumi.Input<string> };
  /** CA bundle the clients verify the servers with (RDS), mounted read-only into api, workers and postgres_exporter. */
  readonly caVolume?: ConfigVolume;
  /** Kubernetes egress: CIDRs of the data subnets (managed), or undefined for the in-namespace Services. */
  readonly cidrs?: readonly string[];
}

/** `user:password@` with the password percent-encoded (an operator's password may hold `@` or `/`). */
const credentials = (user: string, password: pulumi.Input<string>) =>
  pulumi.output(password).apply((p) => `${encodeURIComponent(user)}:${encodeURIComponent(p)}@`);

export function postgresUrl(a: {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
  readonly user: string;
  /** Undefined: the URL without credentials (for outputs). */
  readonly password?: pulumi.Input<string>;
  /** Path of the CA bundle: sslmode=verify-full against it. Undefined: no TLS (in-cluster). */
  readonly caFile?: string;
}): pulumi.Output<string> {
  const auth = a.password === undefined ? pulumi.output(`${encodeURIComponent(a.user)}@`) : credentials(a.user, a.password);
  const tls = a.caFile === undefined ? "" : `?sslmode=verify-full&sslrootcert=${a.caFile}`;
  const url = pulumi.interpolate`postgres://${auth}${a.host}:${a.port}/${a.database}${tls}`;
  return a.password === undefined ? url : pulumi.secret(url);
}

export function redisUrl(a: { readonly host: pulumi.Input<string>; readonly port: pulumi.Input<number>; readonly password?: pulumi.Input<string>; readonly tls: boolean }): pulumi.Output<string> {
  const scheme = a.tls ? "rediss" : "redis";
  if (a.password === undefined) return pulumi.interpolate`${scheme}://${a.host}:${a.port}`;
  const auth = pulumi.output(a.password).apply((p) => `:${encodeURIComponent(p)}@`);
  return pulumi.secret(pulumi.interpolate`${scheme}://${auth}${a.host}:${a.port}`);
}

/** The stack's own Postgres and Redis (containers / StatefulSets), reached by Service name, no TLS inside the namespace. */
export function inClusterDataStoreAccess(passwords: { readonly postgres: pulumi.Input<string>; readonly redis: pulumi.Input<string> }): DataStoreAccess {
  const pg = services.postgres;
  const rd = services.redis;
  const where = { host: pg.name, port: pg.port, database: pg.database, user: pg.user };
  return {
    secretValues: {
      [dataStoreSecretKeys.databaseUrl]: postgresUrl({ ...where, password: passwords.postgres }),
      [dataStoreSecretKeys.redisUrl]: redisUrl({ host: rd.name, port: rd.port, password: passwords.redis, tls: false }),
    },
    postgres: { ...where, sslmode: "disable", url: postgresUrl(where) },
    redis: { host: rd.name, port: rd.port, tls: false, url: redisUrl({ host: rd.name, port: rd.port, tls: false }) },
  };
}

/**
 * Egress of api, workers and postgres_exporter to managed data stores (outside the namespace):
 * the data subnets on 5432 and 6379. In-cluster stores have their Service flows instead
 * (components/runtime/flows.ts, the observability component).
 */
export function managedDataStoreFlows(cidrs: readonly string[]): NetworkFlow[] {
  const { api, worker, postgresExporter, postgres, redis } = services;
  const to = { cidrs };
  return [
    ...[["api", api.name], ["worker", worker.name]].flatMap(([short, name]) => [
      { name: `${short}-to-rds`, from: { service: name as string }, to, ports: [{ port: postgres.port }] },
      { name: `${short}-to-elasticache`, from: { service: name as string }, to, ports: [{ port: redis.port }] },
    ]),
    { name: "postgres-exporter-to-rds", from: { service: postgresExporter.name }, to, ports: [{ port: postgres.port }] },
  ];
}
