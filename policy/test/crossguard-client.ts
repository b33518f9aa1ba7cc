/**
 * Starts policy/index.ts as the Pulumi CLI does (its own process: the CrossGuard gRPC analyzer
 * server, which prints its port) and talks to it with the CLI's protobuf messages.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { PlainResource } from "../lib/resource";

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any -- generated protobuf/grpc modules. */
const grpc = require("@grpc/grpc-js");
const analyzer = require("@pulumi/pulumi/proto/analyzer_pb");
const analyzerRpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");

/** The value Pulumi sends for a property that is unknown during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface Diagnostic {
  readonly policy: string;
  readonly level: string;
  readonly message: string;
  readonly urn: string;
}

export interface PolicyPackServer {
  info(): Promise<{ name: string; policies: [string, string][] }>;
  analyze(r: PlainResource): Promise<Diagnostic[]>;
  analyzeStack(resources: readonly PlainResource[]): Promise<Diagnostic[]>;
  close(): void;
}

const levels = ["advisory", "mandatory", "disabled", "remediate"];
const urnOf = (r: PlainResource) => r.urn ?? `urn:pulumi:test::apex::${r.type}::${r.name}`;
const struct = (props: Record<string, unknown>) => Struct.fromJavaScript(JSON.parse(JSON.stringify(props)));
const options = () => new analyzer.AnalyzerResourceOptions().setProtect(false).setIgnorechangesList([]).setAliasesList([]).setAdditionalsecretoutputsList([]);
const diagnostics = (res: any): Diagnostic[] =>
  res.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: levels[d.getEnforcementlevel()] ?? "?", message: d.getMessage(), urn: d.getUrn() }));

export async function startPolicyPackServer(): Promise<PolicyPackServer> {
  const repo = join(__dirname, "..", "..");
  const child = spawn(process.execPath, ["--import", "tsx", join(repo, "policy", "index.ts")], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\r?\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${err}`)));
  });
  const client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) => client[method](req, (e: Error | null, res: T) => (e ? reject(e) : resolve(res))));
  return {
    async info() {
      const res = await call<any>("getAnalyzerInfo", new Empty());
      return { name: res.getName(), policies: res.getPoliciesList().map((p: any) => [p.getName(), levels[p.getEnforcementlevel()] ?? "?"]) };
    },
    analyze: (r) =>
      call<any>("analyze", new analyzer.AnalyzeRequest().setType(r.type).setName(r.name).setUrn(urnOf(r)).setProperties(struct(r.props)).setOptions(options()))
        .then(diagnostics),
    analyzeStack: (resources) =>
      call<any>("analyzeStack", new analyzer.AnalyzeStackRequest().setResourcesList(resources.map((r) =>
        new analyzer.AnalyzerResource().setType(r.type).setName(r.name).setUrn(urnOf(r)).setProperties(struct(r.props)).setOptions(options()).setDependenciesList([]))))
        .then(diagnostics),
    close() {
      client.close();
      if (child.exitCode === null) child.kill("SIGTERM");
    },
  };
}
