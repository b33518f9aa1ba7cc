/**
 * runbook_url: `<base>/<Alert>.md`, where the base (`apex:observability.runbookBaseUrl`) must be a
 * link someone can open from Alertmanager, Slack or PagerDuty: absolute http(s):// or file://,
 * and not a placeholder that only looks like one.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const runbookBaseUrlKey = "apex:observability.runbookBaseUrl";

/** This checkout's docs/runbooks as a file:// URL: what a dev stack can link to without a server. */
export const repoRunbookBaseUrl = (): string => pathToFileURL(resolve(__dirname, "..", "docs", "runbooks")).href;

/** RFC 2606/6761 names kept for examples and tests; `localhost` stays usable (a local docs server in dev). */
const placeholderHost = /(^|\.)(example|invalid|test)$|(^|\.)example\.(com|net|org)$/i;
/** The org the stack files once carried as a stand-in (`https://github.com/example/apex/...`). */
const placeholderRepo = /^\/examples?(\/|$)/i;

/** Why `base` cannot be the base of a runbook link, or undefined when it can. */
export function runbookBaseUrlProblem(base: string): string | undefined {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return "is not an absolute URL (a relative path opens nothing from an alert notification)";
  }
  if (url.protocol === "file:") return url.pathname.replace(/\/+$/, "") === "" ? "names no directory" : undefined;
  if (url.protocol !== "http:" && url.protocol !== "https:") return `has the scheme "${url.protocol}" (expected https://, http:// or file://)`;
  if (url.hostname === "") return "has no host";
  if (placeholderHost.test(url.hostname)) return `has the placeholder host "${url.hostname}"`;
  if (/^(www\.)?github\.com$/i.test(url.hostname) && placeholderRepo.test(url.pathname)) return "points at the placeholder github.com/example";
  return undefined;
}

/** `base` without trailing slashes, or an error naming the config key when it cannot be a link. */
export function checkedRunbookBaseUrl(base: string): string {
  const problem = runbookBaseUrlProblem(base);
  if (problem) {
    throw new Error(
      `${runbookBaseUrlKey}: "${base}" ${problem}; set it to the absolute URL of your docs/runbooks ` +
        `(e.g. https://github.com/<your-org>/apex/blob/main/docs/runbooks, or ${repoRunbookBaseUrl()} on this machine)`,
    );
  }
  return base.replace(/\/+$/, "");
}

export const runbookUrl = (alert: string, base: string): string => `${checkedRunbookBaseUrl(base)}/${alert}.md`;
