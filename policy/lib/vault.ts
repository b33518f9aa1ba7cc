/** One `path` stanza of a Vault policy document. */
export interface VaultPathRule {
  readonly path: string;
  readonly capabilities: readonly string[];
}

/**
 * Reads the path rules of a Vault policy in either of Vault's syntaxes: HCL
 * (`path "x" { capabilities = ["read"] }`) or JSON (`{"path": {"x": {"capabilities": [...]}}}`).
 */
export function parseVaultPolicy(document: string): VaultPathRule[] {
  const trimmed = document.trim();
  if (trimmed.startsWith("{")) {
    const parsed: unknown = JSON.parse(trimmed);
    const paths = (parsed as { path?: Record<string, { capabilities?: unknown }> }).path ?? {};
    return Object.entries(paths).map(([path, body]) => ({
      path,
      capabilities: Array.isArray(body?.capabilities) ? body.capabilities.map(String) : [],
    }));
  }
  const withoutComments = document.replace(/(^|\s)(#|\/\/).*$/gm, "$1");
  const rules: VaultPathRule[] = [];
  for (const m of withoutComments.matchAll(/path\s+"([^"]*)"\s*\{([^}]*)\}/g)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2] ?? "");
    rules.push({
      path: m[1] ?? "",
      capabilities: caps ? [...(caps[1] ?? "").matchAll(/"([^"]*)"/g)].map((c) => c[1] ?? "") : [],
    });
  }
  return rules;
}

/**
 * True when the path grants the whole Vault (`*`, `+/*`) or the whole `secret` mount
 * (`secret/*`, `secret/data/*`, `secret/metadata/*`, `secret/+/*`) rather than an apex subtree.
 */
export function isOverbroadPath(path: string): boolean {
  const p = path.trim();
  if (p === "*" || p === "" || p.startsWith("*") || p.startsWith("+/")) return true;
  return /^secret\/(?:(?:data|metadata|delete|undelete|destroy|\+)\/)?\*?$/.test(p) || /^secret\*$/.test(p);
}
