/**
 * Logging: Loki, and the shipper feeding it: promtail on docker (reads the engine socket), Grafana
 * Alloy on Kubernetes (tails pod logs through the API with a namespaced Role, no hostPath).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, type DeployedService, type Platform } from "../service";
import { alloyName, alloySpec } from "./alloy";
import { lokiSpec } from "./loki";
import { movedFrom, type PreviousHome } from "./moved";
import { promtailDockerSpec } from "./promtail";

export interface LoggingArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability` (images, logRetention, storage.loki). */
  readonly settings: ObservabilitySettings;
  /** Docker: group owning the engine socket (promtail reads container logs through it). Default 0. */
  readonly dockerSocketGid?: number;
  /** Kubernetes: the API server, which Alloy tails pod logs through (NetworkPolicy egress). Default: no egress flow. */
  readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number };
  /** Resources the services wait for. Default none. */
  readonly dependsOn?: readonly pulumi.Resource[];
  /** Pre-split location of these services, aliased so an existing stack keeps them. Default: none (new stack). */
  readonly previousHome?: PreviousHome;
}

export class Logging extends pulumi.ComponentResource {
  public readonly loki: DeployedService;
  /** promtail (docker) / Alloy (kubernetes). */
  public readonly shipper: DeployedService;
  /** Loki's push endpoint, as the shipper reaches it. */
  public readonly lokiPushUrl: string;
  /** Kubernetes NetworkPolicy flows: shipping and Alloy's API access (empty on docker). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: LoggingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:Logging", name, {}, opts);
    const { settings, platform } = args;
    const images = settings.images;
    const child = (suffix: string): pulumi.ComponentResourceOptions => ({ parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, suffix) });

    this.loki = deployService(`${name}-loki`, lokiSpec({ image: images.loki, retention: settings.logRetention, storageSize: settings.storage.loki }), platform, child("loki"));
    this.lokiPushUrl = `http://${this.loki.endpoint("http")}/loki/api/v1/push`;

    if (platform.target === "docker") {
      this.shipper = deployService(`${name}-promtail`, promtailDockerSpec({
        image: images.promtail,
        lokiPushUrl: this.lokiPushUrl,
        stackInstance: platform.labels["app.kubernetes.io/instance"] ?? `apex-${platform.stack}`,
        dockerSocketGid: args.dockerSocketGid ?? 0,
      }), platform, child("promtail"));
    } else {
      this.shipper = deployService(`${name}-alloy`, alloySpec({ image: images.alloy, namespace: platform.namespaceName, lokiPushUrl: this.lokiPushUrl }), platform, child("alloy"));
      // Alloy reads pods and their logs in the stack namespace, nothing else.
      const labels = { ...platform.labels, "app.kubernetes.io/name": alloyName, "app.kubernetes.io/component": "logging" };
      const role = new k8s.rbac.v1.Role(`${name}-alloy-role`, {
        metadata: { name: `${alloyName}-pod-logs`, namespace: platform.namespace, labels },
        rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }],
      }, { parent: this, provider: platform.provider, ...movedFrom(args.previousHome, "alloy-role") });
      new k8s.rbac.v1.RoleBinding(`${name}-alloy-rolebinding`, {
        metadata: { name: `${alloyName}-pod-logs`, namespace: platform.namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: alloyName, namespace: platform.namespaceName }],
      }, { parent: this, provider: platform.provider, ...movedFrom(args.previousHome, "alloy-rolebinding") });

      this.flows.push({ name: "alloy-to-loki", from: { service: alloyName }, to: { service: services.loki.name }, ports: [{ port: services.loki.port }] });
      if (args.apiServer && args.apiServer.cidrs.length > 0) {
        this.flows.push({ name: "alloy-to-kube-apiserver", from: { service: alloyName }, to: { cidrs: args.apiServer.cidrs }, ports: [{ port: args.apiServer.port }] });
      }
    }
    this.registerOutputs({ lokiPushUrl: this.lokiPushUrl });
  }
}
