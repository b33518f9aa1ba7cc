/**
 * Route x role matrix over gRPC: the same cases as the HTTP matrix, against a real server on an
 * ephemeral port, called with the real @grpc/grpc-js client (unary calls and the WatchDag stream).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { startGrpcServer, type RunningGrpcServer } from "../src/api/grpc/server";
import { loadProtos } from "../src/api/grpc/proto";
import { callers, createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";
import { matrix, type Outcome } from "./api-support/matrix";

const codeOf: Record<Exclude<Outcome, "ok">, status> = {
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
};

type UnaryMethod = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;
type StreamMethod = (req: unknown, md: Metadata) => NodeJS.EventEmitter;

let fx: ApiFixture;
let server: RunningGrpcServer;
let client: Client & Record<string, unknown>;

beforeAll(async () => {
  fx = await createApiFixture({ store: "pglite", service: "real" });
  server = await startGrpcServer(fx.deps, 0, "127.0.0.1");
  const Apex = loadProtos().apex;
  client = new Apex(`127.0.0.1:${server.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await fx?.close();
});

function metadataFor(caller: Caller): Metadata {
  const md = new Metadata();
  const token = fx.tokens[caller];
  if (token) md.set("authorization", `Bearer ${token}`);
  return md;
}

function unary(method: string, request: unknown, md: Metadata): Promise<{ error?: ServiceError; response?: unknown }> {
  const fn = (client[method] as UnaryMethod).bind(client);
  return new Promise((resolve) => fn(request, md, (error, response) => resolve(error ? { error } : { response })));
}

function stream(method: string, request: unknown, md: Metadata): Promise<{ error?: ServiceError; response?: unknown[] }> {
  const call = (client[method] as StreamMethod).call(client, request, md);
  const events: unknown[] = [];
  return new Promise((resolve) => {
    call.on("data", (e: unknown) => events.push(e));
    call.on("error", (error: ServiceError) => resolve({ error }));
    call.on("end", () => resolve({ response: events }));
  });
}

describe.each(matrix.map((c) => [c.name, c] as const))("gRPC %s", (_name, c) => {
  it.each(callers.map((caller) => [caller, c.expect[caller]] as const))("%s -> %s", async (caller) => {
    const call = await c.prepare(fx, caller);
    const callsBefore = fx.calls.length;
    const result = c.stream ? await stream(c.grpcMethod, call.grpc, metadataFor(caller)) : await unary(c.grpcMethod, call.grpc, metadataFor(caller));
    const outcome = c.expect[caller];
    if (outcome === "ok") {
      expect(result.error?.message).toBeUndefined();
      await call.verify?.(result.response);
      return;
    }
    expect(result.error?.code, result.error?.message).toBe(codeOf[outcome]);
    expect(result.error?.metadata.get("apex-error-code")).toEqual([outcome]);
    if (outcome !== "not_found") expect(fx.calls.slice(callsBefore)).toEqual([]);
  });
});
