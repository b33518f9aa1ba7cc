import type { ApexPolicy, PlainResource } from "./resource";

export interface Finding {
  readonly policy: string;
  readonly enforcementLevel: string;
  readonly message: string;
  readonly urn?: string;
}

/**
 * Runs policies over a recorded stack the way `pulumi preview --policy-pack` does: every resource
 * policy on every resource, every stack policy once over all of them, through the same
 * `validateResource` / `validateStack` callbacks the pack registers.
 */
export async function evaluatePolicies(policies: readonly ApexPolicy[], resources: readonly PlainResource[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  const stackTags = new Map<string, string>();
  const notApplicable = (): never => {
    throw new NotApplicable();
  };
  for (const policy of policies) {
    const level = policy.enforcementLevel ?? "advisory";
    const report = (urn?: string) => (message: string, reportedUrn?: string) =>
      findings.push({ policy: policy.name, enforcementLevel: level, message, urn: reportedUrn ?? urn });
    try {
      if (policy.kind === "resource") {
        for (const r of resources) {
          const urn = r.urn ?? r.name;
          await policy.validateResource(
            {
              type: r.type,
              props: r.props,
              urn,
              name: r.name,
              opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], customTimeouts: {} },
              stackTags,
              isType: () => false,
              asType: () => undefined,
              getConfig: () => ({}) as never,
              notApplicable,
            } as unknown as Parameters<typeof policy.validateResource>[0],
            report(urn),
          );
        }
      } else {
        await policy.validateStack(
          {
            resources: resources.map((r) => ({ ...r, urn: r.urn ?? r.name, dependencies: [], propertyDependencies: {} })),
            stackTags,
            getConfig: () => ({}) as never,
            notApplicable,
          } as unknown as Parameters<typeof policy.validateStack>[0],
          report(),
        );
      }
    } catch (e) {
      if (!(e instanceof NotApplicable)) throw e;
    }
  }
  return findings;
}

class NotApplicable extends Error {}
