/**
 * The `server.address` / `server.port` of a provider client, read from the base URL the SDK
 * actually uses (the configured one, the SDK's `*_BASE_URL` env var, or its built-in default), so
 * spans name the endpoint really called.
 */
import type { LlmServerEndpoint } from "../types";

const defaultPorts: Readonly<Record<string, number>> = { "http:": 80, "https:": 443 };

export function serverEndpointOf(provider: string, baseURL: string): LlmServerEndpoint {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new Error(`${provider}: baseURL must be an absolute http(s) URL, got "${baseURL}"`);
  }
  const defaultPort = defaultPorts[url.protocol];
  if (defaultPort === undefined) throw new Error(`${provider}: baseURL must be an http:// or https:// URL, got "${baseURL}"`);
  return {
    address: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : defaultPort,
  };
}
