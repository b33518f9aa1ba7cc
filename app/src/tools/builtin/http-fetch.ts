import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { z } from "zod";
import { ToolError } from "../errors";
import type { ToolDefinition } from "../types";

/**
 * `http_fetch`: GET a text page from an operator-allowlisted host, in the worker (the sandbox has
 * no network). Default deny: the tool exists only when the wiring passes a non-empty allowlist.
 * Against SSRF, every hop (redirects included) must be an allowlisted host name whose resolved
 * addresses are all public; the connection goes to the address that was checked (no second DNS
 * answer can swap in 127.0.0.1), redirects are followed by hand, and the body is capped.
 */
export interface HttpFetchOptions {
  /** Host names that may be fetched: exact (`docs.python.org`) or one-level-or-more wildcard (`*.wikipedia.org`). */
  readonly allowHosts: readonly string[];
  /** Also allow plain http. Default false (https only). */
  readonly allowHttp?: boolean;
  /** Cap on the body kept. Default 1 MiB. */
  readonly maxBytes?: number;
  /** Default 3. */
  readonly maxRedirects?: number;
  /** Default false: allowlisted hosts are trusted by the operator who listed them. */
  readonly requiresApproval?: boolean;
  /** Tests only: permit loopback and private addresses. Never set in a deployment. */
  readonly allowPrivateAddresses?: boolean;
  /** DNS resolution; default the system resolver (all addresses). */
  readonly resolve?: (host: string) => Promise<readonly { address: string; family: number }[]>;
}

/**
 * Addresses no fetch may reach: loopback, private, link-local (cloud metadata), CGNAT, multicast,
 * reserved, and every IPv4-mapped/translated IPv6 form. Two lists, because a BlockList also
 * matches IPv4 addresses against IPv4-mapped IPv6 rules.
 */
const blockedV4 = new BlockList();
const blockedV6 = new BlockList();
for (const [a, p] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15],
  ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) blockedV4.addSubnet(a, p, "ipv4");
for (const [a, p] of [
  ["::", 128], ["::1", 128], ["::ffff:0:0", 96], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64],
  ["2001:db8::", 32], ["2002::", 16], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
] as const) blockedV6.addSubnet(a, p, "ipv6");

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blockedV4.check(address, "ipv4");
  if (family === 6) return blockedV6.check(address, "ipv6");
  return true;
}

function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return allow.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

const httpFetchArgs = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "url must be an http(s) URL" }).max(2048, "url must be at most 2048 characters"),
});

const textual = /^(text\/|application\/(json|xml|xhtml\+xml|ld\+json|rss\+xml|atom\+xml)\b)/i;

export function createHttpFetchTool(opts: HttpFetchOptions): ToolDefinition<typeof httpFetchArgs> {
  if (opts.allowHosts.length === 0) throw new TypeError("http_fetch: allowHosts must list at least one host (the tool is default-deny)");
  for (const h of opts.allowHosts) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(h)) {
      throw new TypeError(`http_fetch: allowHosts entry "${h}" must be a host name or *.domain`);
    }
  }
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const maxRedirects = opts.maxRedirects ?? 3;
  const resolve = opts.resolve ?? ((host: string) => dnsLookup(host, { all: true, verbatim: true }));

  async function vet(url: URL): Promise<{ address: string; family: number }> {
    if (url.protocol !== "https:" && !(opts.allowHttp && url.protocol === "http:")) {
      throw new ToolError(`http_fetch: ${url.protocol}// is not allowed (https only)`);
    }
    if (url.username || url.password) throw new ToolError("http_fetch: credentials in the URL are not allowed");
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) throw new ToolError(`http_fetch: IP address hosts are not allowed (${host}); use an allowlisted name`);
    if (!hostAllowed(host, opts.allowHosts)) throw new ToolError(`http_fetch: host ${host} is not in the allowlist`);
    let addrs: readonly { address: string; family: number }[];
    try {
      addrs = await resolve(host);
    } catch (err) {
      throw new ToolError(`http_fetch: cannot resolve ${host}: ${(err as Error).message}`);
    }
    if (addrs.length === 0) throw new ToolError(`http_fetch: ${host} has no addresses`);
    if (!opts.allowPrivateAddresses) {
      const bad = addrs.find((a) => isBlockedAddress(a.address));
      if (bad) throw new ToolError(`http_fetch: ${host} resolves to a non-public address (${bad.address})`);
    }
    return addrs[0]!;
  }

  function get(url: URL, pinned: { address: string; family: number }, signal: AbortSignal): Promise<http.IncomingMessage> {
    // Connect to the address that was vetted; TLS still verifies the certificate for the host name.
    const lookup: LookupFunction = (_host, options, cb) => {
      if (options.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
      else cb(null, pinned.address, pinned.family);
    };
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolvePromise, reject) => {
      const req = mod.request(url, {
        method: "GET",
        lookup,
        signal,
        headers: { "user-agent": "apex-http-fetch/1", accept: "text/*, application/json;q=0.9, */*;q=0.1" },
      });
      req.on("response", resolvePromise);
      req.on("error", reject);
      req.end();
    });
  }

  return {
    name: "http_fetch",
    description: `GET a text or JSON document over https from an allowlisted host (${opts.allowHosts.join(", ")}). Returns status, content type and the body (capped).`,
    args: httpFetchArgs,
    requiresApproval: opts.requiresApproval ?? false,
    timeoutMs: 20_000,
    run: async (args, ctx) => {
      let url = new URL(args.url);
      for (let hop = 0; ; hop++) {
        const pinned = await vet(url);
        let res: http.IncomingMessage;
        try {
          res = await get(url, pinned, ctx.signal);
        } catch (err) {
          throw new ToolError(`http_fetch: GET ${url.origin}${url.pathname} failed: ${(err as Error).message}`);
        }
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.destroy();
          if (hop >= maxRedirects) throw new ToolError(`http_fetch: more than ${maxRedirects} redirects`);
          url = new URL(location, url);
          continue;
        }
        const contentType = res.headers["content-type"] ?? "";
        if (!textual.test(contentType)) {
          res.destroy();
          throw new ToolError(`http_fetch: ${url.href} returned ${contentType || "no content type"}; only text and JSON are fetched`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        for await (const c of res) {
          const chunk = c as Buffer;
          const room = maxBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            truncated = true;
            break; // Leaving the loop destroys the response.
          }
          chunks.push(chunk);
          size += chunk.length;
        }
        return { url: url.href, status, content_type: contentType, body: Buffer.concat(chunks).toString("utf8"), truncated };
      }
    },
  };
}
