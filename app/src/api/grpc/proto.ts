/**
 * Loads app/proto (the Apex API and the standard health service) with @grpc/proto-loader. Servers
 * and clients (tests, tools) load it the same way so field names and types agree.
 */
import path from "node:path";
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";

/** app/proto, from src/api/grpc (tsx) and from dist/api/grpc (compiled) alike. */
export const protoDir = path.resolve(__dirname, "../../../proto");
export const apexProtoFile = "apex/v1/apex.proto";
export const healthProtoFile = "grpc/health/v1/health.proto";

/**
 * keepCase: the JSON API's snake_case names; defaults off and `optional` fields so absent fields
 * stay absent; int64 as JS numbers (token counts stay far below 2^53).
 */
export const protoLoaderOptions: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: false,
  includeDirs: [protoDir],
};

export interface LoadedProtos {
  /** Both files, for server reflection. */
  readonly definition: PackageDefinition;
  readonly apex: ServiceClientConstructor;
  readonly health: ServiceClientConstructor;
}

let loaded: LoadedProtos | undefined;

export function loadProtos(): LoadedProtos {
  if (loaded) return loaded;
  const definition = loadSync([apexProtoFile, healthProtoFile], protoLoaderOptions);
  const root = loadPackageDefinition(definition);
  loaded = {
    definition,
    apex: lookup(root, ["apex", "v1", "Apex"]),
    health: lookup(root, ["grpc", "health", "v1", "Health"]),
  };
  return loaded;
}

function lookup(root: GrpcObject, names: readonly string[]): ServiceClientConstructor {
  let node: unknown = root;
  for (const name of names) node = (node as Record<string, unknown> | undefined)?.[name];
  if (typeof node !== "function") throw new Error(`${names.join(".")} is not a service in ${protoDir}`);
  return node as ServiceClientConstructor;
}
