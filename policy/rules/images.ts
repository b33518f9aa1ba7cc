import { digestPinProblem } from "../lib/images";
import { checkContainers } from "../lib/containers";
import { containersOf, k8s, type Json } from "../lib/kubernetes";
import { isProdResource, isRecord, resourcePolicy, type PlainResource } from "../lib/resource";

/**
 * Pod manifests held in a ConfigMap's data (the sandbox Pod template the worker's kubernetes
 * driver creates each run from), by data key. Values that are not a JSON Pod are skipped.
 */
function podManifestsIn(r: PlainResource): [key: string, pod: Json][] {
  const data = r.props.data;
  if (!isRecord(data)) return [];
  return Object.entries(data).flatMap(([key, value]): [string, Json][] => {
    if (typeof value !== "string" || !value.trimStart().startsWith("{")) return [];
    try {
      const manifest: unknown = JSON.parse(value);
      return isRecord(manifest) && manifest.kind === "Pod" && isRecord(manifest.spec) ? [[key, manifest.spec as Json]] : [];
    } catch {
      return [];
    }
  });
}

export const prodImagesPinnedByDigest = resourcePolicy(
  {
    name: "prod-images-pinned-by-digest",
    description: "Production containers (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods and Pod templates in ConfigMaps) run images pinned by digest (`@sha256:`): a tag can be re-pointed to other content.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => {
    if (!isProdResource(r)) return [];
    if (r.type === k8s.configMap) {
      return podManifestsIn(r).flatMap(([key, pod]) =>
        containersOf(pod).flatMap((c) => {
          const problem = digestPinProblem(c.spec.image);
          return problem === undefined ? [] : [`ConfigMap "${r.name}" ${key} ${c.kind} "${c.name}": ${problem}`];
        }));
    }
    return checkContainers(r, { kubernetes: (c) => digestPinProblem(c.spec.image) });
  },
);

export const imagePolicies = [prodImagesPinnedByDigest];
