/* eslint-disable @typescript-eslint/no-explicit-any */
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, services } from "../app/src/contract";
import { runStack, type RecordedResource, type StackRun } from "./harness";

const SECRETS = { openaiApiKey: "sk-openai-DEV-KNOWN-1234567", anthropicApiKey: "sk-ant-DEV-KNOWN-7654321" };

let run: StackRun;

const FOUNDATION = [services.api.name, services.worker.name, services.postgres.name, services.redis.name] as string[];
const allContainers = () => run.ofType("docker:index/container:Container");
/** The foundation's containers (other components add their own to the stack). */
const containers = () => allContainers().filter((c) => aliases(c).some((a) => FOUNDATION.includes(a)));
const containerNamed = (name: string): RecordedResource => run.one("docker:index/container:Container", (r) => r.inputs.name === name);
const envMap = (c: RecordedResource): Record<string, string> =>
  Object.fromEntries((c.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
const aliases = (c: RecordedResource): string[] => c.inputs.networksAdvanced[0].aliases;
const byAlias = (alias: string) => containers().filter((c) => aliases(c).includes(alias));

beforeAll(async () => {
  run = await runStack({ stack: "dev", secrets: SECRETS });
});

describe("dev stack (docker)", () => {
  it("exports localhost endpoints", () => {
    expect(run.outputs.target).toBe("docker");
    expect(run.outputs.apiUrl).toBe(`http://localhost:${services.api.httpPort}`);
    expect(run.outputs.grpcEndpoint).toBe(`localhost:${services.api.grpcPort}`);
    expect(run.outputs.internal.redis.url).toBe("redis://redis:6379");
  });

  it("runs postgres, redis, one api and three workers on one user-defined network", () => {
    const network = run.one("docker:index/network:Network");
    expect(network.inputs).toMatchObject({ name: "apex-dev", driver: "bridge" });
    expect(containers().map((c) => c.inputs.name).sort()).toEqual([
      "apex-dev-apex-api", "apex-dev-apex-worker-1", "apex-dev-apex-worker-2", "apex-dev-apex-worker-3",
      "apex-dev-postgres", "apex-dev-redis",
    ]);
    for (const c of containers()) expect(c.inputs.networksAdvanced, c.name).toEqual([{ name: "apex-dev", aliases: [expect.any(String)] }]);
    // Pulled images run by the id of a RemoteImage (the engine pulls before creating the container).
    for (const [alias, ref] of [[services.postgres.name, "postgres:16-alpine"], [services.redis.name, "redis:7-alpine"]] as const) {
      const pulled = run.one("docker:index/remoteImage:RemoteImage", (r) => r.inputs.name === ref);
      expect(pulled.inputs.keepLocally).toBe(true);
      expect(byAlias(alias)[0]?.inputs.image).toMatch(/^sha256:/);
      expect(run.dependenciesOf(byAlias(alias)[0] as RecordedResource)).toContainEqual(expect.objectContaining({ urn: pulled.urn }));
    }
  });

  it("keeps Postgres data in a named volume", () => {
    const volume = run.one("docker:index/volume:Volume", (r) => r.inputs.name === "apex-dev-postgres-data");
    expect(volume.inputs.name).toBe("apex-dev-postgres-data");
    expect(containerNamed("apex-dev-postgres").inputs.volumes).toEqual([{ volumeName: "apex-dev-postgres-data", containerPath: "/var/lib/postgresql/data" }]);
  });

  it("publishes only the API's HTTP and gRPC ports, on 127.0.0.1", () => {
    const published = (list: RecordedResource[]) => list.flatMap((c) => (c.inputs.ports ?? []).map((p: any) => ({ container: c.inputs.name, ...p })));
    for (const p of published(allContainers())) expect(p.ip, p.container).toBe("127.0.0.1");
    expect(published(containers())).toEqual([
      { container: "apex-dev-apex-api", internal: 8080, external: 8080, ip: "127.0.0.1", protocol: "tcp" },
      { container: "apex-dev-apex-api", internal: 50051, external: 50051, ip: "127.0.0.1", protocol: "tcp" },
    ]);
  });

  it("gives every container a health check, a restart policy, limits and the hardened defaults", () => {
    for (const c of containers()) {
      const i = c.inputs;
      expect(i.healthcheck?.tests?.length, c.name).toBeGreaterThan(1);
      expect(i.wait, c.name).toBe(true);
      expect(i.restart, c.name).toBe("unless-stopped");
      expect(i.readOnly, c.name).toBe(true);
      expect(i.capabilities, c.name).toEqual({ drops: ["ALL"] });
      expect(i.securityOpts, c.name).toContain("no-new-privileges:true");
      expect(i.user, c.name).toMatch(/^[1-9]\d*:\d+$/);
      expect(i.memory, c.name).toBeGreaterThan(0);
      expect(i.cpus, c.name).toMatch(/^\d+(\.\d+)?$/);
    }
    expect(containerNamed("apex-dev-apex-api").inputs).toMatchObject({ memory: 2048, memoryReservation: 512, cpus: "2" });
    expect(containerNamed("apex-dev-postgres").inputs.healthcheck.tests).toEqual(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "apex", "-d", "apex"]);
  });

  it("starts in the seed's order: postgres and redis healthy, then the api, then the workers", () => {
    const deps = (c: RecordedResource) => run.dependenciesOf(c).filter((d) => d.type === "docker:index/container:Container").map((d) => d.inputs.name).sort();
    expect(deps(containerNamed("apex-dev-postgres"))).toEqual([]);
    expect(deps(containerNamed("apex-dev-redis"))).toEqual([]);
    expect(deps(containerNamed("apex-dev-apex-api"))).toEqual(["apex-dev-postgres", "apex-dev-redis"]);
    for (const w of byAlias(services.worker.name)) expect(deps(w)).toEqual(["apex-dev-apex-api"]);
  });

  it("wires DATABASE_URL and REDIS_URL to the postgres and redis containers' aliases and ports", () => {
    const pg = byAlias(services.postgres.name);
    const redis = byAlias(services.redis.name);
    expect(pg).toHaveLength(1);
    expect(redis).toHaveLength(1);
    const pgEnv = envMap(pg[0] as RecordedResource);
    for (const c of [...byAlias(services.api.name), ...byAlias(services.worker.name)]) {
      const env = envMap(c);
      const db = new URL(env[runtimeEnv.databaseUrl] as string);
      expect(aliases(pg[0] as RecordedResource)).toContain(db.hostname);
      expect(Number(db.port)).toBe(services.postgres.port);
      expect(db.username).toBe(pgEnv.POSTGRES_USER);
      expect(db.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
      // No credentials in the URLs (Docker has no secret references): the passwords come as their
      // own secret-named env, which the runtime splices in.
      expect(db.password).toBe("");
      expect(env[runtimeEnv.databasePassword]).toBe(pgEnv.POSTGRES_PASSWORD);
      expect(env[runtimeEnv.openaiApiKey]).toBe(SECRETS.openaiApiKey);
      const r = new URL(env[runtimeEnv.redisUrl] as string);
      expect(aliases(redis[0] as RecordedResource)).toContain(r.hostname);
      expect(Number(r.port)).toBe(services.redis.port);
      expect(r.password).toBe("");
      expect(env[runtimeEnv.redisPassword]).toBe(envMap(redis[0] as RecordedResource).REDIS_PASSWORD);
      expect((env[runtimeEnv.redisPassword] as string).length).toBeGreaterThanOrEqual(16);
    }
    expect(envMap(byAlias(services.worker.name)[0] as RecordedResource)[runtimeEnv.sandboxDriver]).toBe("docker");
  });

  it("keeps container env with credentials out of plain state", () => {
    const known = [...Object.values(SECRETS), ...run.secretValues];
    expect(known.length).toBeGreaterThan(2);
    for (const r of run.resources) {
      const plain = JSON.stringify(r.plainInputs);
      for (const s of known) expect(plain.includes(s), `${r.type} ${r.name}`).toBe(false);
    }
    const api = containerNamed("apex-dev-apex-api");
    expect(JSON.stringify(api.inputs)).toContain(SECRETS.openaiApiKey);
    expect(api.plainInputs.envs).toBe("[secret]");
  });

  it("builds the runtime image locally from app/Dockerfile without pushing", () => {
    const image = run.one("docker:index/image:Image", (r) => r.inputs.build?.dockerfile === "app/Dockerfile");
    expect(image.inputs).toMatchObject({ imageName: "apex/runtime:dev", skipPush: true, build: { context: ".", dockerfile: "app/Dockerfile" } });
    expect(image.inputs.registry).toBeUndefined();
    for (const c of [...byAlias(services.api.name), ...byAlias(services.worker.name)]) expect(c.inputs.image).toBe("apex/runtime:dev");
    // The image's CMD per process (app/Dockerfile: WORKDIR /app), its entrypoint untouched.
    expect(containerNamed("apex-dev-apex-api").inputs.command).toEqual(["node", "dist/bin/apex-api.js"]);
    expect(containerNamed("apex-dev-apex-worker-1").inputs.command).toEqual(["node", "dist/bin/apex-worker.js"]);
    expect(containerNamed("apex-dev-apex-api").inputs.entrypoints).toBeUndefined();
  });

  it("mounts the Docker socket into the workers and no other foundation container (dev sandbox driver)", () => {
    for (const c of containers()) {
      const mountsSocket = (c.inputs.volumes ?? []).some((v: any) => v.hostPath === "/var/run/docker.sock");
      expect(mountsSocket, c.name).toBe(aliases(c).includes(services.worker.name));
    }
  });

  it("creates no Kubernetes objects", () => {
    expect(run.resources.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
  });
});

describe("dev stack: the local sandbox driver's hardening", () => {
  it("is auto in dev (set on the workers only with the local driver) and absent with the docker driver", async () => {
    const local = await runStack({ stack: "dev", secrets: SECRETS, config: { workers: { sandboxDriver: "local" } } });
    const workerEnv = (r: StackRun) =>
      envMap(r.ofType("docker:index/container:Container").find((c) => aliases(c).includes(services.worker.name)) as RecordedResource);
    expect(workerEnv(local)[runtimeEnv.sandboxHardened]).toBe("auto");
    expect(workerEnv(run)[runtimeEnv.sandboxDriver]).toBe("docker");
    expect(workerEnv(run)[runtimeEnv.sandboxHardened]).toBeUndefined();
  });
});
