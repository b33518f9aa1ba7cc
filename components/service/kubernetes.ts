import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { retainOptions } from "../platform/protection";
import { selectorLabels, serviceLabels } from "./labels";
import { isAutoscaled, isCpuAutoscaled, type ProbeSpec, type ServiceSpec, type VolumeSpec } from "./model";
import type { KubernetesPlatform } from "./platform";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

export interface KubernetesServiceArgs {
  readonly spec: ServiceSpec;
  readonly platform: KubernetesPlatform;
}

/**
 * A ServiceSpec on Kubernetes: ServiceAccount, ConfigMap (config volumes), Deployment or
 * StatefulSet (stateful specs, PVC per data volume), ClusterIP Service, and for autoscaled specs
 * a PDB and (CPU autoscaling) an autoscaling/v2 HPA; an autoscaled workload leaves `spec.replicas`
 * unset, to its HPA or the external scaler (KEDA) that owns it.
 * Objects are named exactly `spec.name` so in-namespace DNS names are the contract's names.
 */
export class KubernetesService extends pulumi.ComponentResource {
  public readonly serviceAccount: k8s.core.v1.ServiceAccount;
  public readonly workload: k8s.apps.v1.Deployment | k8s.apps.v1.StatefulSet;
  public readonly service?: k8s.core.v1.Service;
  public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
  public readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
  public readonly configMap?: k8s.core.v1.ConfigMap;
  /** In-namespace DNS name of the Service. */
  public readonly host: string;

  constructor(name: string, args: KubernetesServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:service:KubernetesService", name, {}, opts);
    const { spec, platform } = args;
    const child = { parent: this, provider: platform.provider };
    const namespace = platform.namespace;
    const labels = serviceLabels(spec, platform.labels);
    const selector = selectorLabels(spec.name, platform.stack);
    const meta = (objectName = spec.name) => ({ name: objectName, namespace, labels });
    this.host = spec.name;

    const hostPaths = (spec.volumes ?? []).filter((v) => v.kind === "hostPath");
    if (hostPaths.length > 0) {
      throw new Error(`${spec.name}: volume "${hostPaths[0]?.name}" is a hostPath, which the kubernetes target refuses (restricted Pod Security)`);
    }
    const dataVolumes = (spec.volumes ?? []).filter((v): v is Extract<VolumeSpec, { kind: "data" }> => v.kind === "data");
    if (dataVolumes.length > 0 && !spec.stateful) {
      throw new Error(`${spec.name}: data volumes need \`stateful: true\` (rendered as a StatefulSet with a PVC)`);
    }

    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
      metadata: { ...meta(), annotations: spec.serviceAccountAnnotations },
      automountServiceAccountToken: spec.kubernetesApiAccess ?? false,
    }, child);

    const configVolumes = (spec.volumes ?? []).filter((v): v is Extract<VolumeSpec, { kind: "config" }> => v.kind === "config");
    let configData: Record<string, pulumi.Input<string>> | undefined;
    if (configVolumes.length > 0) {
      configData = {};
      for (const v of configVolumes) for (const [file, content] of Object.entries(v.files)) configData[configKey(v.name, file)] = content;
      this.configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(`${spec.name}-config`), data: configData }, child);
    }

    const podSpec = renderPodSpec(spec, this.configMap?.metadata.name, selector);
    // A config change must roll the pods (a mounted ConfigMap updates in place, the process does not re-read it).
    const annotations = configData ? { [CONFIG_HASH_ANNOTATION]: configHash(configData) } : undefined;
    const template = { metadata: { labels: { ...labels, ...selector }, annotations }, spec: podSpec };
    const autoscaled = isAutoscaled(spec.scaling);
    const replicas = autoscaled ? undefined : (spec.scaling as { replicas: number }).replicas;

    if (spec.ports.length > 0) {
      this.service = new k8s.core.v1.Service(`${name}-svc`, {
        metadata: meta(),
        spec: {
          type: "ClusterIP",
          selector,
          ports: spec.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: "TCP", appProtocol: p.appProtocol })),
        },
      }, child);
    }

    if (spec.stateful) {
      this.workload = new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
        metadata: meta(),
        spec: {
          serviceName: spec.name,
          replicas,
          selector: { matchLabels: selector },
          template,
          // The PVCs outlive the StatefulSet (deleted or scaled down); deleting the data is a separate, explicit act.
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          volumeClaimTemplates: dataVolumes.map((v) => ({
            metadata: { name: v.name, labels },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: platform.storageClass,
              resources: { requests: { storage: v.size } },
            },
          })),
        },
      }, { ...child, ...retainOptions(platform.protection), dependsOn: this.service ? [this.service] : [] });
    } else {
      this.workload = new k8s.apps.v1.Deployment(`${name}-deployment`, {
        metadata: meta(),
        spec: {
          replicas,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
          template,
        },
      }, child);
    }

    if (isCpuAutoscaled(spec.scaling)) {
      const scaling = spec.scaling;
      this.autoscaler = new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, {
        metadata: meta(),
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: spec.stateful ? "StatefulSet" : "Deployment", name: this.workload.metadata.name },
          minReplicas: scaling.minReplicas,
          maxReplicas: scaling.maxReplicas,
          metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: scaling.targetCpuUtilization } } }],
        },
      }, child);
    }
    const minimum = autoscaled ? spec.scaling.minReplicas : (replicas ?? 1);
    // Every Deployment gets one (policy prod-deployments-have-pdb); maxUnavailable 1 never blocks a drain of a single replica.
    if (minimum > 1 || !spec.stateful) {
      this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
        metadata: meta(),
        spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
      }, child);
    }

    this.registerOutputs({ host: this.host });
  }
}

const configKey = (volume: string, file: string) => `${volume}.${file}`;

/** Pod-template annotation carrying a digest of the service's ConfigMap. */
export const CONFIG_HASH_ANNOTATION = "apex.dev/config-sha256";

function configHash(data: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
  return pulumi.all(data).apply((d) => {
    const hash = createHash("sha256");
    for (const key of Object.keys(d ?? {}).sort()) hash.update(key).update("\0").update(d[key] ?? "").update("\0");
    return hash.digest("hex");
  });
}

export function renderPodSpec(
  spec: ServiceSpec,
  configMapName?: pulumi.Input<string>,
  selector?: Readonly<Record<string, string>>,
): PodSpec {
  const user = spec.user ?? { uid: 1000, gid: 1000 };
  const readOnlyRoot = spec.readOnlyRootFilesystem ?? true;
  const volumes: k8s.types.input.core.v1.Volume[] = [];
  const mounts: k8s.types.input.core.v1.VolumeMount[] = [];
  for (const v of spec.volumes ?? []) {
    switch (v.kind) {
      case "data":
        mounts.push({ name: v.name, mountPath: v.mountPath });
        break;
      case "tmp":
        volumes.push({ name: v.name, emptyDir: { medium: v.memory ? "Memory" : undefined, sizeLimit: v.sizeLimit } });
        mounts.push({ name: v.name, mountPath: v.mountPath });
        break;
      case "config":
        volumes.push({
          name: v.name,
          configMap: { name: configMapName as pulumi.Input<string>, items: Object.keys(v.files).map((file) => ({ key: configKey(v.name, file), path: file })) },
        });
        mounts.push({ name: v.name, mountPath: v.mountPath, readOnly: true });
        break;
      case "hostPath":
        break;
    }
  }
  const env: k8s.types.input.core.v1.EnvVar[] = [
    ...Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
    ...Object.entries(spec.secretEnv ?? {}).map(([name, ref]) => ({
      name,
      valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } },
    })),
  ];
  const container: Container = {
    name: spec.name,
    image: spec.image,
    command: spec.command,
    args: spec.args,
    ports: spec.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: "TCP" })),
    env,
    resources: { requests: { ...spec.resources.requests }, limits: { ...spec.resources.limits } },
    readinessProbe: spec.probes?.readiness ? renderProbe(spec.probes.readiness) : undefined,
    livenessProbe: spec.probes?.liveness ? renderProbe(spec.probes.liveness) : undefined,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: user.uid,
      runAsGroup: user.gid,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: readOnlyRoot,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: mounts,
  };
  return {
    serviceAccountName: spec.name,
    automountServiceAccountToken: spec.kubernetesApiAccess ?? false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: user.uid,
      runAsGroup: user.gid,
      fsGroup: user.gid,
      supplementalGroups: spec.supplementalGroups ? [...spec.supplementalGroups] : undefined,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [container],
    volumes,
    // Several replicas spread over nodes and zones where the scheduler can; never blocks scheduling.
    topologySpreadConstraints: selector && replicated(spec)
      ? ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
          maxSkew: 1,
          topologyKey,
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { ...selector } },
        }))
      : undefined,
  };
}

const replicated = (spec: ServiceSpec) => isAutoscaled(spec.scaling) || spec.scaling.replicas > 1;

function renderProbe(p: ProbeSpec): k8s.types.input.core.v1.Probe {
  const timing = { initialDelaySeconds: p.initialDelaySeconds ?? 5, periodSeconds: p.periodSeconds ?? 10, timeoutSeconds: 3, failureThreshold: 3 };
  if ("http" in p) return { ...timing, httpGet: { path: p.http.path, port: p.http.port } };
  if ("tcp" in p) return { ...timing, tcpSocket: { port: p.tcp.port } };
  return { ...timing, exec: { command: [...p.exec.command] } };
}
