/** postgres_exporter: connects to the stack's Postgres and exposes pg_up (DatabaseDown needs it). */
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { SecretRef, ServiceSpec, VolumeSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export interface PostgresTarget {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
  readonly user: string;
  /** Where the password lives (the stack's `apex-secrets` POSTGRES_PASSWORD). */
  readonly password: SecretRef;
  /** libpq sslmode; "disable" for the in-stack server, "require" for managed databases. */
  readonly sslmode: "disable" | "require" | "verify-full";
  /** CA bundle mounted read-only for `verify-full` (the RDS CA, components/aws/rds-postgres.ts): lib/pq's sslrootcert. */
  readonly caVolume?: Extract<VolumeSpec, { kind: "config" }>;
}

export function postgresExporterSpec(args: { readonly image: string; readonly database: PostgresTarget }): ServiceSpec {
  const e = services.postgresExporter;
  const db = args.database;
  return {
    name: e.name,
    component: "monitoring",
    image: args.image,
    ports: [{ name: "metrics", port: e.port, appProtocol: "http", metrics: true }],
    env: {
      ...goMemoryLimitEnv(observabilityResources.postgresExporter),
      DATA_SOURCE_URI: pulumi.interpolate`${db.host}:${db.port}/${db.database}?sslmode=${db.sslmode}${db.caVolume ? `&sslrootcert=${db.caVolume.mountPath}/${Object.keys(db.caVolume.files)[0]}` : ""}`,
      DATA_SOURCE_USER: db.user,
    },
    secretEnv: { DATA_SOURCE_PASS: db.password },
    resources: observabilityResources.postgresExporter,
    probes: { readiness: { http: { path: "/", port: e.port } }, liveness: { http: { path: "/", port: e.port }, initialDelaySeconds: 10 } },
    scaling: { replicas: 1 },
    dependsOn: [services.postgres.name],
    user: { uid: 65534, gid: 65534 },
    volumes: db.caVolume ? [db.caVolume] : undefined,
  };
}
