import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpFetchTool, isBlockedAddress, type HttpFetchOptions } from "../src/tools/builtin/http-fetch";
import { ToolError } from "../src/tools/errors";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import { createToolRegistry } from "../src/tools/registry";

// Every request in this file goes to 127.0.0.1: names resolve through the tool's `resolve` seam.
const ctx = { sandbox: new LocalSandboxDriver({ hardened: "off" }), signal: new AbortController().signal, timeoutMs: 5000 };

describe("http_fetch: SSRF guards (no connection is ever made)", () => {
  const resolved: string[] = [];
  const tool = (answers: Record<string, string[]>, extra: Partial<HttpFetchOptions> = {}) =>
    createHttpFetchTool({
      allowHosts: ["docs.example.org", "*.wiki.example"],
      resolve: async (host) => {
        resolved.push(host);
        return (answers[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
      },
      ...extra,
    });
  const fetch = (t: ReturnType<typeof tool>, url: string) => t.run(t.args.parse({ url }), ctx);

  it("is default-deny: no allowlist, no tool", () => {
    expect(() => createHttpFetchTool({ allowHosts: [] })).toThrow(/at least one host/);
    expect(() => createHttpFetchTool({ allowHosts: ["http://x"] })).toThrow(/allowHosts entry "http:\/\/x"/);
    expect(createToolRegistry().get("http_fetch")).toBeUndefined();
  });

  it("refuses hosts outside the allowlist before resolving them", async () => {
    resolved.length = 0;
    await expect(fetch(tool({}), "https://evil.example.com/")).rejects.toThrow(/host evil.example.com is not in the allowlist/);
    await expect(fetch(tool({}), "https://wiki.example/")).rejects.toThrow(/not in the allowlist/); // *.x does not match x itself
    await expect(fetch(tool({}), "https://docs.example.org.evil.com/")).rejects.toThrow(/not in the allowlist/);
    expect(resolved).toEqual([]);
  });

  it("refuses IP literals, credentials and plain http", async () => {
    await expect(fetch(tool({}), "https://127.0.0.1/")).rejects.toThrow(/IP address hosts are not allowed/);
    await expect(fetch(tool({}), "https://[::1]/")).rejects.toThrow(/IP address hosts/);
    await expect(fetch(tool({}), "https://u:p@docs.example.org/")).rejects.toThrow(/credentials/);
    await expect(fetch(tool({}), "http://docs.example.org/")).rejects.toThrow(/https only/);
  });

  it.each([
    ["loopback", "127.0.0.1"],
    ["cloud metadata", "169.254.169.254"],
    ["private 10/8", "10.1.2.3"],
    ["private 192.168/16", "192.168.0.10"],
    ["CGNAT", "100.64.0.1"],
    ["IPv6 loopback", "::1"],
    ["IPv4-mapped loopback", "::ffff:127.0.0.1"],
    ["IPv6 unique local", "fd00::1"],
    ["IPv6 link local", "fe80::1"],
  ])("refuses an allowlisted name that resolves to %s (%s)", async (_what, address) => {
    const t = tool({ "docs.example.org": ["93.184.215.14", address] });
    await expect(fetch(t, "https://docs.example.org/")).rejects.toThrow(new RegExp(`non-public address \\(${address.replace(/\./g, "\\.")}\\)`));
  });

  it("classifies addresses", () => {
    expect(isBlockedAddress("93.184.215.14")).toBe(false);
    expect(isBlockedAddress("8.8.8.8")).toBe(false); // not caught by the IPv4-mapped IPv6 rule
    expect(isBlockedAddress("::ffff:8.8.8.8")).toBe(true);
    expect(isBlockedAddress("2606:4700::1111")).toBe(false);
    expect(isBlockedAddress("172.31.255.255")).toBe(true);
    expect(isBlockedAddress("not-an-ip")).toBe(true);
  });

  it("rejects a bad url naming the field", () => {
    const r = tool({}).args.safeParse({ url: "file:///etc/passwd" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["url"]);
  });
});

describe("http_fetch: fetching (loopback server, private addresses allowed for the test)", () => {
  let server: Server;
  let port = 0;
  const hosts: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hosts.push(req.headers.host ?? "");
      if (req.url === "/page") res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("héllo world");
      else if (req.url === "/big") res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(5000));
      else if (req.url === "/json") res.writeHead(200, { "content-type": "application/json" }).end('{"a":1}');
      else if (req.url === "/image") res.writeHead(200, { "content-type": "image/png" }).end("png");
      else if (req.url === "/to-page") res.writeHead(302, { location: "/page" }).end();
      else if (req.url === "/to-evil") res.writeHead(302, { location: `http://evil.test:${port}/page` }).end();
      else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else res.writeHead(404, { "content-type": "text/plain" }).end("nope");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const t = () =>
    createHttpFetchTool({
      allowHosts: ["docs.test"],
      allowHttp: true,
      allowPrivateAddresses: true,
      maxBytes: 1000,
      resolve: async (host) => (host === "docs.test" || host === "evil.test" ? [{ address: "127.0.0.1", family: 4 }] : []),
    });
  const fetch = (path: string, host = "docs.test") => {
    const tool = t();
    return tool.run(tool.args.parse({ url: `http://${host}:${port}${path}` }), ctx);
  };

  it("fetches text from the vetted address with the allowlisted Host", async () => {
    expect(await fetch("/page")).toEqual({ url: `http://docs.test:${port}/page`, status: 200, content_type: "text/plain; charset=utf-8", body: "héllo world", truncated: false });
    expect(hosts.at(-1)).toBe(`docs.test:${port}`);
    expect(await fetch("/json")).toMatchObject({ body: '{"a":1}' });
    expect(await fetch("/missing")).toMatchObject({ status: 404, body: "nope" });
  });

  it("caps the body", async () => {
    const r = (await fetch("/big")) as { body: string; truncated: boolean };
    expect(r.body.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it("follows redirects only to allowlisted hosts, and only so many", async () => {
    expect(await fetch("/to-page")).toMatchObject({ url: `http://docs.test:${port}/page`, body: "héllo world" });
    await expect(fetch("/to-evil")).rejects.toThrow(/host evil.test is not in the allowlist/);
    await expect(fetch("/loop")).rejects.toThrow(/more than 3 redirects/);
  });

  it("refuses binary content", async () => {
    await expect(fetch("/image")).rejects.toThrow(ToolError);
  });
});
