import { sandboxSpec } from "../../app/src/contract";
import { nameOf, namespaceOf } from "../lib/kubernetes";
import { asArray, describe, isProdResource, isRecord, stackPolicy, type PlainResource, type Violation } from "../lib/resource";

export const sandboxTypes = {
  configMap: "kubernetes:core/v1:ConfigMap",
  runtimeClass: "kubernetes:node.k8s.io/v1:RuntimeClass",
  admissionPolicy: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
  admissionBinding: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
} as const;

/** The ConfigMap holding the sandbox Pod manifest (components/sandbox/sandbox.ts) and its key. */
export const podTemplateConfigMap = { name: "apex-sandbox-pod-template", key: "pod.json" } as const;

const isPodTemplate = (r: PlainResource): boolean =>
  r.type === sandboxTypes.configMap && nameOf(r) === podTemplateConfigMap.name && namespaceOf(r) === sandboxSpec.namespace;

/** Does a CEL expression require `object.spec.runtimeClassName == "<name>"`? */
const requiresRuntimeClass = (expression: unknown, name: string): boolean =>
  typeof expression === "string" && expression.includes(`object.spec.runtimeClassName == "${name}"`) && !/\|\|/.test(expression);

/** Does a binding apply to the sandbox namespace, by name label? (An empty selector matches every namespace.) */
function bindsSandboxNamespace(binding: PlainResource): boolean {
  const spec = isRecord(binding.props.spec) ? binding.props.spec : {};
  const match = isRecord(spec.matchResources) ? spec.matchResources : undefined;
  if (match === undefined || !isRecord(match.namespaceSelector)) return true;
  const labels = isRecord(match.namespaceSelector.matchLabels) ? match.namespaceSelector.matchLabels : {};
  const expressions = asArray(match.namespaceSelector.matchExpressions);
  const nameLabel = labels["kubernetes.io/metadata.name"];
  return (nameLabel === undefined || nameLabel === sandboxSpec.namespace) && expressions.length === 0;
}

/**
 * Prod (Kubernetes, not a dev stack on a local cluster): sandbox Pods run under a RuntimeClass (gVisor), and the cluster enforces it.
 * The pod template the worker's driver shares must name a RuntimeClass declared in the stack and
 * carry that class's node pool selector and tolerations; a ValidatingAdmissionPolicy must require
 * the class, bound with Deny to the sandbox namespace. A template not yet known (preview, before
 * the image digest exists) is judged on the admission policy alone.
 */
export const sandboxRuntimeClassEnforced = stackPolicy(
  {
    name: "sandbox-runtime-class-enforced",
    description: `Sandbox Pods in ${sandboxSpec.namespace} use a declared RuntimeClass (with its node pool's selector and tolerations), required by a ValidatingAdmissionPolicy bound with Deny to that namespace.`,
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (resources) => {
    const template = resources.find(isPodTemplate);
    if (template === undefined) return []; // Docker target: sandboxes are containers.
    if (!isProdResource(template)) return []; // A dev stack on a local cluster (kind has no gVisor).
    const out: Violation[] = [];
    const classes = resources.filter((r) => r.type === sandboxTypes.runtimeClass);
    const data = isRecord(template.props.data) ? template.props.data[podTemplateConfigMap.key] : undefined;

    let runtimeClassName: string | undefined;
    if (typeof data === "string") {
      let pod: unknown;
      try {
        pod = JSON.parse(data);
      } catch (e) {
        return [{ message: `${describe(template)}: ${podTemplateConfigMap.key} is not JSON: ${(e as Error).message}`, urn: template.urn }];
      }
      const spec = isRecord(pod) && isRecord(pod.spec) ? pod.spec : {};
      if (typeof spec.runtimeClassName !== "string" || spec.runtimeClassName === "") {
        out.push({ message: `${describe(template)}: the sandbox Pod template sets no runtimeClassName (set apex:sandbox.runtimeClass, e.g. gvisor/runsc)`, urn: template.urn });
      } else {
        runtimeClassName = spec.runtimeClassName;
        const rc = classes.find((r) => nameOf(r) === runtimeClassName);
        if (rc === undefined) {
          out.push({ message: `${describe(template)}: runtimeClassName "${runtimeClassName}" is not a RuntimeClass declared in this stack`, urn: template.urn });
        } else {
          out.push(...placementProblems(template, spec, rc));
        }
      }
    } else {
      // Unknown during preview: the admission policy must still require some declared class.
      runtimeClassName = classes.length === 1 ? nameOf(classes[0] as PlainResource) : undefined;
    }

    out.push(...admissionProblems(resources, runtimeClassName));
    return out;
  },
);

/** The template carries the RuntimeClass's scheduling (node pool selector and tolerations). */
function placementProblems(template: PlainResource, podSpec: Record<string, unknown>, rc: PlainResource): Violation[] {
  const scheduling = isRecord(rc.props.scheduling) ? rc.props.scheduling : undefined;
  if (scheduling === undefined) return [];
  const out: Violation[] = [];
  const selector = isRecord(podSpec.nodeSelector) ? podSpec.nodeSelector : {};
  for (const [k, v] of Object.entries(isRecord(scheduling.nodeSelector) ? scheduling.nodeSelector : {})) {
    if (selector[k] !== v) out.push({ message: `${describe(template)}: the sandbox Pod template does not select the node pool (nodeSelector ${k}=${String(v)})`, urn: template.urn });
  }
  const tolerations = asArray(podSpec.tolerations).filter(isRecord);
  for (const t of asArray(scheduling.tolerations).filter(isRecord)) {
    const found = tolerations.some((p) => p.key === t.key && p.effect === t.effect && (p.operator ?? "Equal") === (t.operator ?? "Equal") && p.value === t.value);
    if (!found) out.push({ message: `${describe(template)}: the sandbox Pod template does not tolerate the node pool's taint ${String(t.key)}:${String(t.effect)}`, urn: template.urn });
  }
  return out;
}

/** A ValidatingAdmissionPolicy requiring the class on Pod CREATE, bound with Deny to the sandbox namespace. */
function admissionProblems(resources: readonly PlainResource[], runtimeClassName: string | undefined): Violation[] {
  const policies = resources.filter((r) => r.type === sandboxTypes.admissionPolicy);
  const enforcing = policies.filter((p) => {
    const spec = isRecord(p.props.spec) ? p.props.spec : {};
    const rules = isRecord(spec.matchConstraints) ? asArray(spec.matchConstraints.resourceRules).filter(isRecord) : [];
    const coversPodCreate = rules.some((r) => asArray(r.resources).includes("pods") && asArray(r.operations).some((o) => o === "CREATE" || o === "*"));
    const requiresClass = asArray(spec.validations).filter(isRecord).some((v) =>
      runtimeClassName === undefined ? typeof v.expression === "string" && v.expression.includes("object.spec.runtimeClassName ==") : requiresRuntimeClass(v.expression, runtimeClassName));
    return coversPodCreate && requiresClass && spec.failurePolicy !== "Ignore";
  });
  const what = runtimeClassName === undefined ? "a RuntimeClass" : `runtimeClassName "${runtimeClassName}"`;
  if (enforcing.length === 0) {
    return [{ message: `no ValidatingAdmissionPolicy requires ${what} on sandbox Pods (CREATE of pods, failurePolicy Fail): the cluster would admit a sandbox Pod on the default runtime` }];
  }
  const names = new Set(enforcing.map((p) => nameOf(p)));
  const bound = resources.some((b) => {
    if (b.type !== sandboxTypes.admissionBinding) return false;
    const spec = isRecord(b.props.spec) ? b.props.spec : {};
    return names.has(spec.policyName as string) && asArray(spec.validationActions).includes("Deny") && bindsSandboxNamespace(b);
  });
  return bound
    ? []
    : [{ message: `ValidatingAdmissionPolicy ${[...names].join(", ")} is not bound with validationActions [Deny] to namespace ${sandboxSpec.namespace}`, urn: enforcing[0]?.urn }];
}
