/**
 * The gRPC API beyond roles, against the in-memory service double (so events can be driven by
 * hand): field errors in status and trailing metadata, the submission's mapping to the JSON
 * contract, live WatchDag streams and cancellation, and grpc.health.v1.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { credentials, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { startGrpcServer } from "../src/api/grpc/server";
import { loadProtos } from "../src/api/grpc/proto";
import { connectGrpc, type GrpcTestClient, type StreamMethod } from "./api-support/grpc-client";
import { createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";

let fx: ApiFixture;
let grpc: GrpcTestClient;

beforeAll(async () => {
  fx = await createApiFixture({ store: "postgres", service: "double" });
  grpc = await connectGrpc(fx);
});

afterAll(async () => {
  await grpc?.close();
  await fx?.close();
});

const metadataFor = (caller: Caller) => grpc.metadataFor(caller);
const unary = (method: string, request: unknown, md: Metadata) => grpc.unary(method, request, md);

describe("gRPC API", () => {
  it("names the invalid field in the message and in the trailing metadata", async () => {
    const { error } = await unary("CreateApiKey", { name: "x", role: "wizard" }, metadataFor("admin"));
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/^role: /);
    expect(error?.metadata.get("apex-error-field")).toEqual(["role"]);
  });

  it("refuses an agent key submitting for another agent, naming agent_id", async () => {
    const { error } = await unary("SubmitDag", { agent_id: fx.agentB.id, name: "x", tasks: [{ id: "t", kind: "llm" }] }, metadataFor("agent"));
    expect(error?.code).toBe(status.PERMISSION_DENIED);
    expect(error?.metadata.get("apex-error-field")).toEqual(["agent_id"]);
  });

  it("refuses a message over the size limit with RESOURCE_EXHAUSTED", async () => {
    const { error } = await unary("CreateAgent", { name: "x", description: "y".repeat(2 * 1024 * 1024) }, metadataFor("admin"));
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("passes task fields, tool args and extra fields through to the service as the JSON contract", async () => {
    const { error } = await unary(
      "SubmitDag",
      {
        agent_id: fx.agentA.id,
        name: "tools",
        tasks: [
          { id: "a", kind: "tool", tool: "http_get", args: { fields: { url: { stringValue: "http://x" }, n: { numberValue: 2 } } }, max_attempts: 2 },
          { id: "b", kind: "llm", depends_on: ["a"], model: "local/echo", prompt: "p", temperature: 0, extra: { fields: { future: { boolValue: true } } } },
        ],
      },
      metadataFor("agent"),
    );
    expect(error).toBeUndefined();
    expect(fx.double!.submissions.at(-1)?.body).toEqual({
      agent_id: fx.agentA.id,
      name: "tools",
      tasks: [
        { id: "a", kind: "tool", tool: "http_get", args: { url: "http://x", n: 2 }, max_attempts: 2, depends_on: [] },
        { id: "b", kind: "llm", depends_on: ["a"], model: "local/echo", prompt: "p", temperature: 0, future: true },
      ],
    });
  });

  it("streams live events after the snapshot and ends when the DAG finishes", async () => {
    const dag = fx.double!.seedDag(fx.agentA.id);
    const call = (grpc.client.WatchDag as StreamMethod).call(grpc.client, { id: dag.id }, metadataFor("viewer"));
    const events: { type: string; status: string }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("data", (e: { type: string; status: string }) => {
        events.push(e);
        if (events.length === 2) {
          fx.double!.setTaskStatus(dag.id, "t1", "succeeded");
          fx.double!.setDagStatus(dag.id, "succeeded");
        }
      });
      call.on("end", resolve);
      call.on("error", reject);
    });
    await ended;
    expect(events.map((e) => `${e.type}:${e.status}`)).toEqual(["task_status:running", "dag_status:running", "task_status:succeeded", "dag_status:succeeded"]);
    expect(fx.double!.watcherCount(dag.id)).toBe(0);
  });

  it("stops watching when the client cancels", async () => {
    const dag = fx.double!.seedDag(fx.agentA.id);
    const call = (grpc.client.WatchDag as StreamMethod).call(grpc.client, { id: dag.id }, metadataFor("admin")) as NodeJS.EventEmitter & { cancel(): void };
    await new Promise<void>((resolve) => call.once("data", () => resolve()));
    call.on("error", () => undefined);
    expect(fx.double!.watcherCount(dag.id)).toBe(1);
    call.cancel();
    await expect.poll(() => fx.double!.watcherCount(dag.id)).toBe(0);
  });

  it("serves server reflection, so grpcurl can list and describe the services without proto files", async () => {
    const reflectionProto = path.join(path.dirname(require.resolve("@grpc/reflection")), "..", "proto", "grpc", "reflection", "v1", "reflection.proto");
    const pkg = loadPackageDefinition(loadSync(reflectionProto, { keepCase: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & Record<string, unknown> } } };
    };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${grpc.server.port}`, credentials.createInsecure());
    try {
      const call = (reflection.ServerReflectionInfo as () => NodeJS.EventEmitter & { write(m: unknown): void; end(): void }).call(reflection);
      const answer = new Promise<{ list_services_response?: { service: { name: string }[] } }>((resolve, reject) => {
        call.once("data", resolve);
        call.once("error", reject);
      });
      call.write({ list_services: "" });
      const services = (await answer).list_services_response?.service.map((s) => s.name);
      call.end();
      expect(services).toEqual(expect.arrayContaining(["apex.v1.Apex", "grpc.health.v1.Health"]));
    } finally {
      reflection.close();
    }
  });

  it("serves grpc.health.v1 Check from the service's readiness", async () => {
    const Health = loadProtos().health;
    const health = new Health(`127.0.0.1:${grpc.server.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;
    const check = (service: string) =>
      new Promise<{ error?: ServiceError; response?: unknown }>((resolve) =>
        (health.Check as (r: unknown, cb: (e: ServiceError | null, r: unknown) => void) => void).call(health, { service }, (error, response) =>
          resolve(error ? { error } : { response }),
        ),
      );
    expect((await check("")).response).toEqual({ status: "SERVING" });
    expect((await check("apex.v1.Apex")).response).toEqual({ status: "SERVING" });
    expect((await check("nope")).error?.code).toBe(status.NOT_FOUND);
    const firstWatched = (service: string) =>
      new Promise<unknown>((resolve, reject) => {
        const call = (health.Watch as (r: unknown) => NodeJS.EventEmitter & { cancel(): void }).call(health, { service });
        call.on("error", (e: ServiceError) => (e.code === status.CANCELLED ? undefined : reject(e)));
        call.once("data", (m: unknown) => {
          resolve(m);
          call.cancel();
        });
      });
    expect(await firstWatched("")).toEqual({ status: "SERVING" });
    expect(await firstWatched("nope")).toEqual({ status: "SERVICE_UNKNOWN" });
    fx.double!.isReady = false;
    try {
      expect((await check("")).response).toEqual({ status: "NOT_SERVING" });
    } finally {
      fx.double!.isReady = true;
      health.close();
    }
  });

  it("close() ends open WatchDag and Health/Watch streams instead of waiting for them", async () => {
    const second = await startGrpcServer(fx.deps, 0, "127.0.0.1");
    const address = `127.0.0.1:${second.port}`;
    const apex = new (loadProtos().apex)(address, credentials.createInsecure()) as Client & Record<string, unknown>;
    const health = new (loadProtos().health)(address, credentials.createInsecure()) as Client & Record<string, unknown>;
    try {
      const dag = fx.double!.seedDag(fx.agentA.id);
      const streams = [
        (apex.WatchDag as StreamMethod).call(apex, { id: dag.id }, metadataFor("viewer")),
        (health.Watch as (r: unknown) => NodeJS.EventEmitter).call(health, { service: "" }),
      ];
      const ended = streams.map(
        (call) =>
          new Promise<void>((resolve) => {
            call.on("data", () => undefined);
            call.on("end", resolve);
            call.on("error", () => resolve());
          }),
      );
      await Promise.all(streams.map((call) => new Promise((resolve) => call.once("data", resolve))));
      const started = Date.now();
      await second.close();
      await Promise.all(ended);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(fx.double!.watcherCount(dag.id)).toBe(0);
    } finally {
      apex.close();
      health.close();
    }
  });
});
