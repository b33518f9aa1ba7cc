/**
 * Route x role matrix over gRPC: the same cases as the HTTP matrix, against a real server on an
 * ephemeral port, called with the real @grpc/grpc-js client (unary calls and the WatchDag stream).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type Metadata } from "@grpc/grpc-js";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";
import { callers, createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";
import { matrix, type Outcome } from "./api-support/matrix";

const codeOf: Record<Exclude<Outcome, "ok">, status> = {
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
};

let fx: ApiFixture;
let grpc: GrpcTestClient;

beforeAll(async () => {
  fx = await createApiFixture({ store: "pglite", service: "real" });
  grpc = await connectGrpc(fx);
});

afterAll(async () => {
  await grpc?.close();
  await fx?.close();
});

const metadataFor = (caller: Caller) => grpc.metadataFor(caller);
const unary = (method: string, request: unknown, md: Metadata) => grpc.unary(method, request, md);
const stream = (method: string, request: unknown, md: Metadata) => grpc.stream(method, request, md);

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
