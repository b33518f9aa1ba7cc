import { checkContainers, containerSecurity, dockerUserIsRoot, effectiveSecurity } from "../lib/containers";
import { asArray, isRecord, resourcePolicy } from "../lib/resource";

const missingResources = (resources: unknown): string | undefined => {
  const r = isRecord(resources) ? resources : {};
  const missing = ["requests", "limits"].flatMap((kind) =>
    ["cpu", "memory"].filter((res) => {
      const group = r[kind];
      return !isRecord(group) || group[res] === undefined || group[res] === null || group[res] === "";
    }).map((res) => `resources.${kind}.${res}`),
  );
  return missing.length > 0 ? `${missing.join(", ")} not set` : undefined;
};

export const containersHaveResources = resourcePolicy(
  {
    name: "containers-have-resources",
    description: "Every container declares CPU and memory requests and limits (Docker: memory and cpus limits).",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "high",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c) => missingResources(c.spec.resources),
      docker: (p) => {
        const missing = [
          typeof p.memory === "number" && p.memory > 0 ? undefined : "memory",
          p.cpus !== undefined || (typeof p.cpuQuota === "number" && p.cpuQuota > 0) ? undefined : "cpus",
        ].filter((x) => x !== undefined);
        return missing.length > 0 ? `${missing.join(", ")} limit not set` : undefined;
      },
    }),
);

export const containersRunAsNonRoot = resourcePolicy(
  {
    name: "containers-run-as-non-root",
    description: "Containers run as a non-root user (runAsNonRoot or a non-zero runAsUser; Docker: a non-root `user`).",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "high",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c, pod) => {
        const uid = effectiveSecurity(c, pod, "runAsUser");
        if (uid === 0) return "runAsUser is 0 (root)";
        if (effectiveSecurity(c, pod, "runAsNonRoot") === true) return undefined;
        if (typeof uid === "number" && uid > 0) return undefined;
        return "neither runAsNonRoot: true nor a non-zero runAsUser is set";
      },
      docker: (p) => (dockerUserIsRoot(p.user) ? `user is ${p.user === undefined ? "unset (root)" : `"${p.user}" (root)`}` : undefined),
    }),
);

export const containersReadOnlyRootFilesystem = resourcePolicy(
  {
    name: "containers-read-only-root-filesystem",
    description: "Containers mount their root filesystem read-only; writable paths are explicit volumes or tmpfs.",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "medium",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c) => (containerSecurity(c).readOnlyRootFilesystem === true ? undefined : "securityContext.readOnlyRootFilesystem is not true"),
      docker: (p) => (p.readOnly === true ? undefined : "readOnly is not true"),
    }),
);

export const containersDropAllCapabilities = resourcePolicy(
  {
    name: "containers-drop-all-capabilities",
    description: "Containers drop ALL Linux capabilities.",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "high",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c) => {
        const caps = containerSecurity(c).capabilities;
        return asArray(isRecord(caps) ? caps.drop : undefined).includes("ALL") ? undefined : "securityContext.capabilities.drop does not include ALL";
      },
      docker: (p) => {
        const caps = p.capabilities;
        return asArray(isRecord(caps) ? caps.drops : undefined).includes("ALL") ? undefined : "capabilities.drops does not include ALL";
      },
    }),
);

const noNewPrivileges = /^no-new-privileges(?:[:=]true)?$/;

export const containersNoPrivilegeEscalation = resourcePolicy(
  {
    name: "containers-no-privilege-escalation",
    description: "Containers are not privileged and cannot gain privileges (allowPrivilegeEscalation: false; Docker: no-new-privileges).",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "critical",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c) => {
        const sc = containerSecurity(c);
        if (sc.privileged === true) return "securityContext.privileged is true";
        return sc.allowPrivilegeEscalation === false ? undefined : "securityContext.allowPrivilegeEscalation is not false";
      },
      docker: (p) => {
        if (p.privileged === true) return "privileged is true";
        return asArray<string>(p.securityOpts).some((o) => noNewPrivileges.test(o)) ? undefined : 'securityOpts lacks "no-new-privileges"';
      },
    }),
);

export const containersSeccomp = resourcePolicy(
  {
    name: "containers-seccomp",
    description:
      "Containers run under a seccomp profile: RuntimeDefault or Localhost on Kubernetes (unset means Unconfined there); on Docker the engine's default profile unless a securityOpt turns it off.",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "high",
  },
  (r) =>
    checkContainers(r, {
      kubernetes: (c, pod) => {
        const profile = effectiveSecurity(c, pod, "seccompProfile");
        const type = isRecord(profile) ? profile.type : undefined;
        if (type === "RuntimeDefault" || type === "Localhost") return undefined;
        return type === undefined ? "no seccompProfile (defaults to Unconfined)" : `seccompProfile.type is ${String(type)}`;
      },
      docker: (p) =>
        asArray<string>(p.securityOpts).some((o) => /^seccomp[:=]unconfined$/.test(o)) ? "securityOpts disables seccomp (seccomp=unconfined)" : undefined,
    }),
);

export const containerPolicies = [
  containersHaveResources,
  containersRunAsNonRoot,
  containersReadOnlyRootFilesystem,
  containersDropAllCapabilities,
  containersNoPrivilegeEscalation,
  containersSeccomp,
];
