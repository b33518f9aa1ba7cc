import { z } from "zod";

/**
 * Field schemas for stack config, each with the human form it expects. The message is the
 * "expected ..." half of a config error; config/errors.ts adds the key and the value given.
 */
const expecting = (form: string) => ({ error: `expected ${form}` });

export const positiveInt = () => {
  const e = expecting("a positive integer");
  return z.number(e).int(e).positive(e);
};

export const percentage = () => {
  const e = expecting("an integer percentage between 1 and 100");
  return z.number(e).int(e).min(1, e).max(100, e);
};

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, expecting(`one of ${values.map((v) => `"${v}"`).join(", ")}`));

export const nonEmptyText = (form = "a non-empty string") => {
  const e = expecting(form);
  return z.string(e).min(1, e);
};

export const bool = () => z.boolean(expecting("true or false"));

/** Kubernetes CPU quantity: "500m", "2", "0.5". */
export const cpuQuantity = () => {
  const e = expecting('a CPU quantity such as "500m" or "2"');
  return z.string(e).regex(/^(\d+m|\d+(\.\d+)?)$/, e);
};

/** Kubernetes memory quantity in binary units: "512Mi", "2Gi". */
export const memoryQuantity = () => {
  const e = expecting('a memory quantity such as "512Mi" or "2Gi"');
  return z.string(e).regex(/^\d+(Ki|Mi|Gi|Ti)$/, e);
};

/** RFC 1123 label: Kubernetes namespace and object names. */
export const dnsLabel = () => {
  const e = expecting("a DNS label (lowercase letters, digits and '-', at most 63 characters)");
  return z.string(e).max(63, e).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, e);
};

export const hostname = () => {
  const e = expecting('a DNS host name such as "api.apex.example.com"');
  return z
    .string(e)
    .max(253, e)
    .regex(/^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/, e);
};

export const ipv4Address = () => {
  const e = expecting('an IPv4 address such as "127.0.0.1"');
  return z.string(e).regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, e);
};

export const ipv4Cidr = () => {
  const e = expecting('an IPv4 CIDR such as "10.0.0.0/8"');
  return z
    .string(e)
    .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/, e);
};

/** Image repository without tag or digest: "postgres", "ghcr.io/acme/apex-runtime". */
export const imageRepository = () => {
  const e = expecting('an image repository such as "ghcr.io/acme/apex-runtime" (no tag)');
  return z.string(e).regex(/^[a-z0-9]+([._\-/:][a-z0-9]+)*$/, e).refine((s) => !/:[^/]*$/.test(s), e);
};

/** Image reference with a tag, a digest or both: "postgres:16-alpine", "redis@sha256:...", "redis:7-alpine@sha256:...". */
export const imageReference = () => {
  const e = expecting('an image reference with a tag or digest such as "postgres:16-alpine"');
  return z.string(e).regex(/^[a-z0-9]+([._\-/][a-z0-9]+)*(:\d+\/[a-z0-9._\-/]+)?(:[\w][\w.-]{0,127}(@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$/, e);
};

export const imageTag = () => {
  const e = expecting('an image tag such as "0.1.0"');
  return z.string(e).regex(/^[\w][\w.-]{0,127}$/, e);
};

export const stringMap = () =>
  z.record(z.string(), z.string(expecting("a string value")), expecting("a map of strings"));

/** Every object in config rejects unknown keys, so a typo is reported instead of ignored. */
export const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape, expecting("an object"));

export const list = <T extends z.ZodType>(item: T, form: string) => z.array(item, expecting(`a list of ${form}`));

export const resources = () =>
  section({
    requests: section({ cpu: cpuQuantity(), memory: memoryQuantity() }),
    limits: section({ cpu: cpuQuantity(), memory: memoryQuantity() }),
  });

export const autoscaling = () =>
  section({ minReplicas: positiveInt(), maxReplicas: positiveInt(), targetCpuUtilization: percentage() });
