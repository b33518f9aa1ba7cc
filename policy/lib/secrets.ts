/**
 * Heuristics for secret material in plain configuration. Names are matched on their words
 * (`OPENAI_API_KEY`, `db-password`); values on shapes credentials really have.
 */
const secretNameWords = /(^|[_.-])(PASSWORD|PASSWD|SECRET|TOKEN|API[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIALS?|ACCESS[_-]?KEY)($|[_.-])/i;
/**
 * Names that point at a secret without being one: its file, its name, or the endpoint that issues
 * it (`GF_AUTH_GENERIC_OAUTH_TOKEN_URL`); a URL carrying a password is still caught by its value.
 */
const referenceSuffix = /[_.-](FILE|PATH|ENV|REF|NAME|ID|URL|URI)$/i;

export function isSecretName(name: string): boolean {
  return secretNameWords.test(name) && !referenceSuffix.test(name);
}

const secretValueShapes: ReadonlyArray<readonly [string, RegExp]> = [
  ["an OpenAI/Anthropic-style API key", /\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}/],
  ["an AWS access key id", /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/],
  ["a GitHub token", /\bgh[pousr]_[A-Za-z0-9]{30,}/],
  ["a Vault token", /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/],
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["a URL with an embedded password", /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i],
  ["a password assignment", /(?<![A-Za-z])(?:password|passwd|secret|api_?key|token)\s*[:=]\s*["']?(?![\s"']*$)(?!\$)(?![<{])[^\s"'#]{4,}/i],
];

/** What the value looks like when it looks like a credential, else undefined. */
export function secretValueShape(value: string): string | undefined {
  return secretValueShapes.find(([, re]) => re.test(value))?.[0];
}
