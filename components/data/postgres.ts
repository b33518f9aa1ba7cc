import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract";
import { STACK_SECRET_NAME, stackSecretKeys } from "../platform/secrets";
import { deployService, type DeployedService, type Platform, type ResourceSpec, type ServiceSpec } from "../service";

export interface PostgresArgs {
  readonly platform: Platform;
  /** Image reference; default config `apex:images.postgres` = "postgres:16-alpine". */
  readonly image: string;
  /** Size of the data volume (Kubernetes PVC request; Docker ignores it). */
  readonly storageSize: string;
  readonly resources: ResourceSpec;
}

/** uid/gid of the `postgres` user in the official alpine image. */
const POSTGRES_UID = 70;
const pg = services.postgres;

/** Postgres as a ServiceSpec: data volume, password from `apex-secrets`, pg_isready probes. */
export function postgresSpec(args: Omit<PostgresArgs, "platform">): ServiceSpec {
  const ready = ["pg_isready", "-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", pg.database];
  return {
    name: pg.name,
    component: "database",
    image: args.image,
    ports: [{ name: "postgres", port: pg.port, appProtocol: "tcp" }],
    env: {
      POSTGRES_USER: pg.user,
      POSTGRES_DB: pg.database,
      // A subdirectory, so initdb does not trip over a volume's lost+found.
      PGDATA: "/var/lib/postgresql/data/pgdata",
    },
    secretEnv: { POSTGRES_PASSWORD: { secret: STACK_SECRET_NAME, key: stackSecretKeys.postgresPassword } },
    resources: args.resources,
    probes: {
      readiness: { exec: { command: ready }, initialDelaySeconds: 5, periodSeconds: 5 },
      liveness: { exec: { command: ready }, initialDelaySeconds: 30, periodSeconds: 10 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: POSTGRES_UID, gid: POSTGRES_UID },
    volumes: [
      { kind: "data", name: "data", mountPath: "/var/lib/postgresql/data", size: args.storageSize },
      { kind: "tmp", name: "run", mountPath: "/var/run/postgresql", sizeLimit: "16Mi" },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
    ],
  };
}

/** The stack's Postgres 16 (container with a named volume / StatefulSet with a PVC) and how to reach it. */
export class Postgres extends pulumi.ComponentResource {
  public readonly service: DeployedService;
  public readonly host: string;
  public readonly port: number = pg.port;
  public readonly database: string = pg.database;
  public readonly user: string = pg.user;
  /** URL without the password; the runtime splices DATABASE_PASSWORD from `apex-secrets`. */
  public readonly url: string;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:data:Postgres", name, {}, opts);
    this.service = deployService(`${name}-server`, postgresSpec(args), args.platform, { parent: this });
    this.host = this.service.host;
    this.url = `postgres://${this.user}@${this.host}:${this.port}/${this.database}`;
    this.registerOutputs({ host: this.host, port: this.port, database: this.database, url: this.url });
  }
}
