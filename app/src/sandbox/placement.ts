/**
 * The sandbox node pool's selector and tolerations as zod schemas: ONE definition for the stack
 * config (`apex:sandbox.nodePool`) and the worker's env (APEX_SANDBOX_NODE_SELECTOR,
 * APEX_SANDBOX_TOLERATIONS). Messages are the "expected ..." half of an error; the caller names
 * the key or variable.
 */
import { z } from "zod";
import { sandboxTaintEffects, type SandboxPlacement, type SandboxToleration } from "../contract";


const expecting = (form: string) => ({ error: `expected ${form}` });

const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain (<= 253), name <= 63. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !dnsSubdomain.test(prefix))) return false;
  return name.length <= 63 && labelName.test(name);
}

/** A Kubernetes label value: empty, or <= 63 alphanumerics and `-_.` starting and ending alphanumeric. */
export const isLabelValue = (value: string): boolean => value === "" || (value.length <= 63 && labelName.test(value));

const labelKey = () => {
  const e = expecting('a label key such as "apex.dev/pool"');
  return z.string(e).refine(isLabelKey, e);
};

const labelValue = () => {
  const e = expecting('a label value such as "sandbox" (at most 63 of letters, digits, "-", "_", ".")');
  return z.string(e).refine(isLabelValue, e);
};

export const sandboxNodeSelectorSchema = z.record(labelKey(), labelValue(), {
  error: (issue) =>
    issue.code === "invalid_key"
      ? 'expected a label key such as "apex.dev/pool"'
      : 'expected a map of node labels such as {"apex.dev/pool":"sandbox"}',
});

export const sandboxTolerationSchema = z
  .strictObject(
    {
      key: labelKey(),
      operator: z.enum(["Equal", "Exists"], expecting('"Equal" or "Exists"')),
      value: labelValue().optional(),
      effect: z.enum(sandboxTaintEffects, expecting(sandboxTaintEffects.map((e) => `"${e}"`).join(", ").replace(/, ([^,]*)$/, " or $1"))),
    },
    expecting('a toleration such as {"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"NoSchedule"}'),
  )
  .superRefine((t, ctx) => {
    // The API server rejects a value with Exists; an Equal without one matches only an empty value.
    if (t.operator === "Exists" && t.value !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: 'expected no value with operator "Exists"' });
    if (t.operator === "Equal" && t.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: 'expected the taint\'s value with operator "Equal"' });
  });

export const sandboxTolerationsSchema = z.array(sandboxTolerationSchema, expecting("a list of tolerations { key, operator, value, effect }"));

/**
 * A node pool's placement: at least one node label (so sandboxes land only on the pool's nodes) and
 * at least one toleration (the pool is tainted, so nothing else lands there).
 */
export const sandboxPlacementSchema = z.strictObject(
  {
    nodeSelector: sandboxNodeSelectorSchema.refine((m) => Object.keys(m).length > 0, expecting("at least one node label")),
    tolerations: sandboxTolerationsSchema.min(1, expecting("at least one toleration (the sandbox node pool is tainted)")),
  },
  expecting("an object { nodeSelector, tolerations }"),
);

// The schemas yield the contract's types (a compile-time check that the two agree).
const _toleration: SandboxToleration = {} as z.output<typeof sandboxTolerationSchema>;
const _placement: SandboxPlacement = {} as z.output<typeof sandboxPlacementSchema>;
void _toleration;
void _placement;
