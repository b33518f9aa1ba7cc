/**
 * The gRPC API (port 50051, proto in app/proto/apex/v1/apex.proto) over the same operations as
 * HTTP, plus the standard grpc.health.v1 Health (health.ts) and server reflection (grpcurl needs no
 * proto files; the schema is public, every Apex call still needs a key). Credentials come from
 * the metadata entry `authorization: Bearer <key>`. The port is plaintext h2c: TLS ends at the
 * Ingress or mesh.
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { defaultMaxRequestBytes, type ApiDeps } from "../deps";
import { grpcStatusOf, retryAfterOf, toApiError } from "../errors";
import { authenticate, invoke, operations, watchDag, type Operation } from "../operations";
import { healthService } from "./health";
import { approvalMessage, createdApiKeyMessage, dagMessage, submitDagBody } from "./messages";
import { loadProtos } from "./proto";

export interface RunningGrpcServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/** How long close() lets in-flight calls finish before cutting them off. */
const shutdownGraceMs = 5_000;

type Request = Record<string, unknown>;
const same = (value: unknown): unknown => value;

export async function startGrpcServer(deps: ApiDeps, port: number, host = "0.0.0.0"): Promise<RunningGrpcServer> {
  const protos = loadProtos();
  const maxBytes = deps.maxRequestBytes ?? defaultMaxRequestBytes;
  const server = new Server({ "grpc.max_receive_message_length": maxBytes });
  const watches = new Map<ServerWritableStream<Request, unknown>, () => Promise<void>>();

  const toStatus = (error: unknown): Partial<ServerErrorResponse> => {
    const apiError = toApiError(error);
    if (apiError.code === "internal") deps.logger?.error({ err: error }, "gRPC call failed");
    const metadata = new Metadata();
    metadata.set("apex-error-code", apiError.code);
    if (apiError.field) metadata.set("apex-error-field", apiError.field);
    const retryAfter = retryAfterOf(apiError);
    if (retryAfter !== undefined) metadata.set("retry-after", String(retryAfter));
    const details = apiError.field && !apiError.message.includes(apiError.field) ? `${apiError.field}: ${apiError.message}` : apiError.message;
    return { code: grpcStatusOf[apiError.code], details, metadata };
  };

  const unary =
    <I, O>(operation: Operation<I, O>, toInput: (request: Request) => unknown = same, toMessage: (result: O) => unknown = same) =>
    (call: ServerUnaryCall<Request, unknown>, callback: sendUnaryData<unknown>): void => {
      // Runs inside the gRPC instrumentation's SERVER span (telemetry/instrumentations.ts).
      void (async () => {
        try {
          const principal = await authenticate(deps, bearer(call.metadata), peerIp(call.getPeer()));
          callback(null, toMessage(await invoke(deps, principal, operation, toInput(call.request))));
        } catch (error: unknown) {
          callback(toStatus(error));
        }
      })();
    };

  const apex: UntypedServiceImplementation = {
    GetMe: unary(operations.getMe),
    GetUsage: unary(operations.getUsage),
    CreateAgent: unary(operations.createAgent),
    ListAgents: unary(operations.listAgents),
    GetAgentBudget: unary(operations.getAgentBudget),
    SetAgentBudget: unary(operations.setAgentBudget),
    SubmitDag: unary(operations.submitDag, submitDagBody),
    ListDags: unary(operations.listDags),
    GetDag: unary(operations.getDag, same, dagMessage),
    CancelDag: unary(operations.cancelDag),
    ListApprovals: unary(operations.listApprovals, same, (r) => ({ approvals: r.approvals.map(approvalMessage) })),
    DecideApproval: unary(operations.decideApproval, same, approvalMessage),
    CreateApiKey: unary(operations.createApiKey, same, createdApiKeyMessage),
    ListApiKeys: unary(operations.listApiKeys),
    RevokeApiKey: unary(operations.revokeApiKey),
    GetKeyBudget: unary(operations.getKeyBudget),
    SetKeyBudget: unary(operations.setKeyBudget),
    WatchDag: (call: ServerWritableStream<Request, unknown>): void => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        watches.delete(call);
        call.end();
      };
      (async () => {
        const principal = await authenticate(deps, bearer(call.metadata), peerIp(call.getPeer()));
        const stop = await watchDag(deps, principal, call.request, {
          event: (e) => {
            if (!done) call.write(e);
          },
          end: finish,
        });
        if (done || call.cancelled) {
          done = true;
          await stop();
          return;
        }
        watches.set(call, stop);
        call.on("cancelled", () => {
          done = true;
          watches.delete(call);
          void stop();
        });
      })().catch((error: unknown) => {
        if (done) return;
        done = true;
        call.emit("error", toStatus(error));
      });
    },
  };
  server.addService(protos.apex.service, apex);

  const healthWatches = new Map<ServerWritableStream<{ service?: string }, unknown>, () => Promise<void>>();
  server.addService(protos.health.service, healthService(deps.service, healthWatches));

  new ReflectionService(protos.definition).addToServer(server);

  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );

  return {
    port: boundPort,
    async close() {
      // Open watches would hold a graceful shutdown until their DAGs finish: end them first.
      await Promise.all([...healthWatches.values()].map((stop) => stop()));
      await Promise.all(
        [...watches].map(async ([call, stop]) => {
          watches.delete(call);
          await stop().catch(() => undefined);
          call.end();
        }),
      );
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, shutdownGraceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** The client address of a peer string (`127.0.0.1:5000`, `[::1]:5000`, `ipv4:…`), without its port. */
export function peerIp(peer: string): string {
  const address = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1]) return bracketed[1];
  const hostPort = /^([^:]+):\d+$/.exec(address);
  return hostPort?.[1] ?? address;
}

function bearer(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  return typeof value === "string" ? value : undefined;
}
