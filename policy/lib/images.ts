/** What an image reference pins: a digest, a tag, or nothing (the registry's `latest`). */
export type ImagePin = { kind: "digest"; digest: string } | { kind: "tag"; tag: string } | { kind: "none" };

/**
 * Parses `[registry[:port]/]repo[:tag][@sha256:...]`. The tag is the part after the last `:` of
 * the last path segment, so a registry port (`host:5000/app`) is not mistaken for a tag.
 */
export function imagePin(ref: string): ImagePin {
  const at = ref.indexOf("@");
  if (at >= 0) return { kind: "digest", digest: ref.slice(at + 1) };
  const lastSegment = ref.slice(ref.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  return colon >= 0 && colon < lastSegment.length - 1 ? { kind: "tag", tag: lastSegment.slice(colon + 1) } : { kind: "none" };
}

/** The problem with an image reference for a production workload, or undefined when it is pinned. */
export function unpinnedImageProblem(ref: unknown): string | undefined {
  if (ref === undefined) return "has no image";
  if (typeof ref !== "string" || ref.trim() === "") return "has an empty image reference";
  const pin = imagePin(ref.trim());
  if (pin.kind === "none") return `image "${ref}" is untagged (resolves to latest)`;
  if (pin.kind === "tag" && pin.tag === "latest") return `image "${ref}" uses the latest tag`;
  return undefined;
}

/** The problem with an image reference that production must pin by digest, or undefined when it is. */
export function digestPinProblem(ref: unknown): string | undefined {
  if (ref === undefined) return "has no image";
  if (typeof ref !== "string" || ref.trim() === "") return "has an empty image reference";
  const pin = imagePin(ref.trim());
  if (pin.kind === "digest" && /^sha256:[a-f0-9]{64}$/.test(pin.digest)) return undefined;
  if (pin.kind === "digest") return `image "${ref}" has a malformed digest (expected sha256:<64 hex>)`;
  return `image "${ref}" is not pinned by digest (expected "repo:tag@sha256:<64 hex>"; a tag can be re-pointed)`;
}
