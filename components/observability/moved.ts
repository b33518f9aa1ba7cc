/**
 * Where a concern's resources lived before the observability component was split by concern:
 * direct children of `Observability`, named `<prefix>-<service>`. An alias per moved child keeps an
 * existing stack's resources in place (same URN history) instead of replacing them.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface PreviousHome {
  /** The `Observability` component the children used to hang off. */
  readonly parent: pulumi.Resource;
  /** Its name, which prefixed theirs. */
  readonly namePrefix: string;
}

/** Resource options aliasing a child to its pre-split name `<namePrefix>-<suffix>` under the old parent. */
export const movedFrom = (home: PreviousHome | undefined, suffix: string): pulumi.CustomResourceOptions =>
  home ? { aliases: [{ name: `${home.namePrefix}-${suffix}`, parent: home.parent }] } : {};
