/**
 * Tracing: Jaeger (OTLP in, query UI out). The runtime exports its spans to `otlpEndpoint`;
 * Grafana's Jaeger data source reads them back.
 */
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, type DeployedService, type Platform } from "../service";
import { jaegerOtlpHttpFlows, jaegerSpec } from "./jaeger";
import { movedFrom, type PreviousHome } from "./moved";

/** OTLP gRPC endpoint the runtime exports spans to (OTEL_EXPORTER_OTLP_ENDPOINT), on both targets. */
export const otlpEndpoint = `http://${services.jaeger.name}:${services.jaeger.otlpGrpcPort}`;

export interface TracingArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability` (images.jaeger, storage.jaeger, traceRetention). */
  readonly settings: ObservabilitySettings;
  /** Resources Jaeger waits for (the observability Secret on Kubernetes). Default none. */
  readonly dependsOn?: readonly pulumi.Resource[];
  /** Pre-split location of the Jaeger service, aliased so an existing stack keeps it. Default: none (new stack). */
  readonly previousHome?: PreviousHome;
}

export class Tracing extends pulumi.ComponentResource {
  public readonly jaeger: DeployedService;
  /** Kubernetes NetworkPolicy flows: the runtime's span export (empty on docker). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: TracingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:Tracing", name, {}, opts);
    const docker = args.platform.target === "docker";
    this.jaeger = deployService(`${name}-jaeger`, jaegerSpec({
      image: args.settings.images.jaeger,
      publishPorts: docker,
      storageSize: args.settings.storage.jaeger,
      spanRetention: args.settings.traceRetention,
    }), args.platform, {
      parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, "jaeger"),
    });
    if (!docker) {
      const { api, worker, jaeger } = services;
      this.flows.push(
        { name: "api-to-jaeger", from: { service: api.name }, to: { service: jaeger.name }, ports: [{ port: jaeger.otlpGrpcPort }] },
        { name: "worker-to-jaeger", from: { service: worker.name }, to: { service: jaeger.name }, ports: [{ port: jaeger.otlpGrpcPort }] },
        ...jaegerOtlpHttpFlows(),
      );
    }
    this.registerOutputs({ jaegerHost: this.jaeger.host });
  }
}
