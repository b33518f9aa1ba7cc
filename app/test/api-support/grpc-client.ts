/**
 * A real gRPC server on an ephemeral port over a test fixture, and a real @grpc/grpc-js client of
 * the Apex service, with calls turned into promises. Shared by the gRPC test files.
 */
import { credentials, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { startGrpcServer, type RunningGrpcServer } from "../../src/api/grpc/server";
import { loadProtos } from "../../src/api/grpc/proto";
import type { ApiFixture, Caller } from "./fixture";

export type UnaryMethod = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;
export type StreamMethod = (req: unknown, md: Metadata) => NodeJS.EventEmitter;

export interface GrpcTestClient {
  readonly server: RunningGrpcServer;
  readonly client: Client & Record<string, unknown>;
  /** Metadata carrying the caller's key (none for an anonymous caller). */
  metadataFor(caller: Caller): Metadata;
  unary(method: string, request: unknown, md: Metadata): Promise<{ error?: ServiceError; response?: unknown }>;
  /** Collects a server stream's messages until it ends or fails. */
  stream(method: string, request: unknown, md: Metadata): Promise<{ error?: ServiceError; response?: unknown[] }>;
  close(): Promise<void>;
}

export async function connectGrpc(fx: ApiFixture): Promise<GrpcTestClient> {
  const server = await startGrpcServer(fx.deps, 0, "127.0.0.1");
  const Apex = loadProtos().apex;
  const client = new Apex(`127.0.0.1:${server.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;

  return {
    server,
    client,
    metadataFor(caller) {
      const md = new Metadata();
      const token = fx.tokens[caller];
      if (token) md.set("authorization", `Bearer ${token}`);
      return md;
    },
    unary(method, request, md) {
      const fn = (client[method] as UnaryMethod).bind(client);
      return new Promise((resolve) => fn(request, md, (error, response) => resolve(error ? { error } : { response })));
    },
    stream(method, request, md) {
      const call = (client[method] as StreamMethod).call(client, request, md);
      const events: unknown[] = [];
      return new Promise((resolve) => {
        call.on("data", (e: unknown) => events.push(e));
        call.on("error", (error: ServiceError) => resolve({ error }));
        call.on("end", () => resolve({ response: events }));
      });
    },
    async close() {
      client.close();
      await server.close();
    },
  };
}
