import { dockerContainerType } from "../lib/containers";
import { containersOf, k8s, podSpecOf } from "../lib/kubernetes";
import { asArray, describe, isRecord, resourcePolicy, type PlainResource } from "../lib/resource";
import { isSecretName, secretValueShape } from "../lib/secrets";

function kubernetesEnvProblems(r: PlainResource): string[] {
  const pod = podSpecOf(r);
  if (pod === undefined) return [];
  return containersOf(pod).flatMap((c) =>
    asArray(c.spec.env)
      .filter(isRecord)
      .flatMap((e) => {
        const name = typeof e.name === "string" ? e.name : "?";
        if (typeof e.value !== "string" || e.value === "") return [];
        const where = `${describe(r)} container "${c.name}" env ${name}`;
        if (isSecretName(name)) return [`${where} holds a literal value; use valueFrom.secretKeyRef`];
        const shape = secretValueShape(e.value);
        return shape ? [`${where} looks like ${shape}; use valueFrom.secretKeyRef`] : [];
      }),
  );
}

/**
 * Docker has no secret references: the program passes secrets as env values marked secret in
 * Pulumi state, so names cannot be judged here; values shaped like credentials still are.
 */
function dockerEnvProblems(r: PlainResource): string[] {
  return asArray(r.props.envs).flatMap((entry) => {
    if (typeof entry !== "string") return [];
    const eq = entry.indexOf("=");
    const name = eq >= 0 ? entry.slice(0, eq) : entry;
    if (isSecretName(name)) return [];
    const shape = secretValueShape(eq >= 0 ? entry.slice(eq + 1) : "");
    return shape ? [`${describe(r)} env ${name} looks like ${shape}`] : [];
  });
}

/** Docker's ConfigMap: files uploaded into the container land in plain state like ConfigMap data. */
function dockerUploadProblems(r: PlainResource): string[] {
  return asArray(r.props.uploads).filter(isRecord).flatMap((u) => {
    const file = typeof u.file === "string" ? u.file : "?";
    const base = file.slice(file.lastIndexOf("/") + 1);
    if (isSecretName(base.replace(/\.[^.]*$/, ""))) return [`${describe(r)} upload "${file}" names a secret; pass it as a secret env var`];
    const shape = typeof u.content === "string" ? secretValueShape(u.content) : undefined;
    return shape ? [`${describe(r)} upload "${file}" contains ${shape}; pass it as a secret env var`] : [];
  });
}

function configMapProblems(r: PlainResource): string[] {
  const problems: string[] = [];
  for (const field of ["data", "binaryData"] as const) {
    const data = r.props[field];
    if (!isRecord(data)) continue;
    for (const [key, value] of Object.entries(data)) {
      if (isSecretName(key)) problems.push(`${describe(r)} ${field} key "${key}" names a secret; put it in a Secret`);
      else if (field === "data" && typeof value === "string") {
        const shape = secretValueShape(value);
        if (shape) problems.push(`${describe(r)} data key "${key}" contains ${shape}; put it in a Secret`);
      }
    }
  }
  return problems;
}

export const noPlainSecrets = resourcePolicy(
  {
    name: "no-plain-secrets",
    description: "No secret value sits in a plain container env var, a ConfigMap or a Docker upload: secrets come from Secrets (secretKeyRef) or Vault.",
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (r) => {
    if (r.type === k8s.configMap) return configMapProblems(r);
    if (r.type === dockerContainerType) return [...dockerEnvProblems(r), ...dockerUploadProblems(r)];
    return kubernetesEnvProblems(r);
  },
);
