import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";

export const environments = ["dev", "prod"] as const;
export type Environment = (typeof environments)[number];

type DeepPartial<T> = T extends readonly (infer _U)[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * One top-level key of the `apex` config namespace. The stack file's value is deep-merged over the
 * environment's defaults (objects merge key by key, lists and scalars replace), then parsed with
 * `schema`. Helpers add their own section (config/observability.ts, config/security.ts) and
 * register it in config/sections.ts with one line.
 */
export interface PlainSection<S extends z.ZodType = z.ZodType> {
  readonly kind: "plain";
  /** One line for docs/configuration.md. */
  readonly description: string;
  readonly schema: S;
  /**
   * Defaults: `all` for every environment (a default that is the same in dev and prod is written
   * once, here), then an environment's own deep-merged over it. What a stack file does not set
   * comes from these.
   */
  readonly defaults?: { readonly [E in Environment | "all"]?: DeepPartial<z.input<S>> };
}

/**
 * A secret top-level key: set with `pulumi config set --secret apex:<key>`. Its plaintext is
 * validated (never echoed in errors) and handed on only as a Pulumi secret Output.
 */
export interface SecretSection {
  readonly kind: "secret";
  readonly description: string;
  /** Environments that refuse to deploy without it. Elsewhere an absent secret stays undefined. */
  readonly requiredIn: readonly Environment[];
  /** Minimum plaintext length (default 1). */
  readonly minLength?: number;
  /** "url": the plaintext must be an http(s) URL (a webhook), checked without echoing it. */
  readonly format?: "url";
}

export type ConfigSection = PlainSection | SecretSection;

export const plainSection = <S extends z.ZodType>(s: Omit<PlainSection<S>, "kind">): PlainSection<S> => ({
  kind: "plain",
  ...s,
});

export const secretSection = (s: Omit<SecretSection, "kind">): SecretSection => ({ kind: "secret", ...s });

/** The typed value a section yields after parsing. */
export type SectionValue<S> =
  S extends PlainSection<infer Schema>
    ? z.output<Schema>
    : S extends SecretSection
      ? pulumi.Output<string> | undefined
      : never;
