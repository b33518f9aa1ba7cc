/** The contract shared by the Pulumi program and the runtime: names, ports, env vars, limits. */
export * from "./services";
export * from "./env";
export * from "./metrics";
export * from "./sandbox";
export * from "./worker-drain";
