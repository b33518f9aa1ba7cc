/**
 * `npm start` serves the operator console on the API's origin (startLocal with a console dir, real
 * HTTP): its files as they are, index.html for any page a browser asks for, the apex-dashboard
 * image's security headers on both; API paths keep their JSON answers and the JSON 404; dotfiles
 * and paths outside the dir are never served. Without a build the API still starts and the banner
 * says how to build one. A fixture build stands in for console/dist (the browser e2e in
 * tests/e2e/console builds the real one). The headers are the nginx image's, checked against its
 * template.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleSecurityHeaders } from "../src/api/http/console-files";
import { startLocal, type LocalRuntime } from "../src/bin/local";
import { localBanner } from "../src/bin/local-banner";

const indexHtml = '<!doctype html><html><head><script type="module" src="/assets/index-Ab12Cd.js"></script></head><body><div id="root"></div></body></html>';
const script = "console.log('apex console');";

async function get(url: string, accept = "*/*", method = "GET"): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { method, headers: { accept } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function expectConsoleHeaders(headers: Headers): void {
  for (const [name, value] of Object.entries(consoleSecurityHeaders)) expect(headers.get(name), name).toBe(value);
}

it("sends the same security headers as the apex-dashboard image's nginx", async () => {
  const template = await readFile(path.resolve(__dirname, "../../console/nginx/default.conf.template"), "utf8");
  const nginxHeaders = Object.fromEntries(
    [...template.matchAll(/^\s*add_header\s+([\w-]+)\s+"([^"$]*)"\s+always;/gm)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
  );
  expect(nginxHeaders).toEqual(consoleSecurityHeaders);
});

describe("npm start serves the console", () => {
  let workDir: string;
  let consoleDir: string;
  const running: LocalRuntime[] = [];
  const start = async (options: Parameters<typeof startLocal>[0]) => {
    const local = await startLocal({ env: {}, instanceFile: false, ...options, overrides: { httpPort: 0, grpcPort: 0 } });
    running.push(local);
    return local;
  };

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), "apex-local-console-"));
    consoleDir = path.join(workDir, "dist");
    await mkdir(path.join(consoleDir, "assets"), { recursive: true });
    await writeFile(path.join(consoleDir, "index.html"), indexHtml);
    await writeFile(path.join(consoleDir, "assets", "index-Ab12Cd.js"), script);
    await writeFile(path.join(consoleDir, "favicon.svg"), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(path.join(consoleDir, ".env"), "SECRET=dotfile");
    await writeFile(path.join(workDir, "outside.txt"), "outside the console dir");
  });
  afterAll(async () => {
    for (const local of running.splice(0)) await local.close(2_000);
    await rm(workDir, { recursive: true, force: true });
  });

  describe("with a build (APEX_CONSOLE_DIR)", () => {
    let local: LocalRuntime;
    beforeAll(async () => {
      local = await start({ env: { APEX_CONSOLE_DIR: consoleDir } });
    });

    it("the banner names the console first, on the API's origin", () => {
      expect(local.consoleDir).toBe(consoleDir);
      expect(local.consoleUrl).toBe(`${local.url}/`);
      const lines = localBanner(local).split("\n");
      const first = lines.findIndex((l) => l.startsWith("  "));
      expect(lines[first]).toBe(`  Console    ${local.url}/   (sign in with the admin key)`);
      expect(lines[first + 1]).toMatch(/^ {2}HTTP API {3}/);
    });

    it("answers / and any console page with index.html and the security headers", async () => {
      for (const page of ["/", "/dags", "/dags/0b7e6a0e-6f43-4a43-9d7c-2f1d35a2f1aa", "/approvals?status=pending"]) {
        const res = await get(`${local.url}${page}`, "text/html,application/xhtml+xml,*/*;q=0.8");
        expect(res.status, page).toBe(200);
        expect(res.body, page).toBe(indexHtml);
        expect(res.headers.get("content-type"), page).toMatch(/^text\/html/);
        expect(res.headers.get("cache-control"), page).toBe("no-cache");
        expectConsoleHeaders(res.headers);
      }
      const head = await get(`${local.url}/dags/x`, "text/html", "HEAD");
      expect(head.status).toBe(200);
      expectConsoleHeaders(head.headers);
    });

    it("serves the files: hashed assets cached for good, others revalidated", async () => {
      const js = await get(`${local.url}/assets/index-Ab12Cd.js`);
      expect(js.status).toBe(200);
      expect(js.body).toBe(script);
      expect(js.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
      expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expectConsoleHeaders(js.headers);
      const icon = await get(`${local.url}/favicon.svg`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
      expect(icon.headers.get("cache-control")).toBe("no-cache");
    });

    it("a missing file that is not a page is the API's JSON 404", async () => {
      const res = await get(`${local.url}/assets/gone-Zz99.js`);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: "not_found" } });
    });

    it("API paths keep their answers: JSON 404 even for a browser, routes, OpenAPI, health, metrics", async () => {
      for (const apiPath of ["/v1/nope", "/v1", "/v1/dags/x/nope"]) {
        const res = await get(`${local.url}${apiPath}`, "text/html");
        expect(res.status, apiPath).toBe(404);
        expect(res.headers.get("content-type"), apiPath).toMatch(/^application\/json/);
        expect(JSON.parse(res.body), apiPath).toMatchObject({ error: { code: "not_found", message: `no route GET ${apiPath}` } });
        expect(res.headers.get("content-security-policy"), apiPath).toBeNull();
      }
      const unauthenticated = await get(`${local.url}/v1/agents`, "text/html");
      expect(unauthenticated.status).toBe(401);
      const agents = await fetch(`${local.url}/v1/agents`, { headers: { authorization: `Bearer ${local.adminKey}`, accept: "text/html" } });
      expect(agents.status).toBe(200);
      expect(await agents.json()).toHaveProperty("agents");
      const openApi = await get(`${local.url}/openapi.json`, "text/html");
      expect(openApi.status).toBe(200);
      expect(JSON.parse(openApi.body)).toHaveProperty("openapi");
      expect((await get(`${local.url}/healthz`, "text/html")).body).toBe('{"status":"ok"}');
      expect((await get(`${local.url}/metrics`, "text/html")).body).toContain("# HELP");
      // Not a page: a POST to a console path is the JSON 404.
      const post = await fetch(`${local.url}/dags/x`, { method: "POST", headers: { accept: "text/html" } });
      expect(post.status).toBe(404);
      expect(post.headers.get("content-type")).toMatch(/^application\/json/);
    });

    it("never serves dotfiles or files outside the dir", async () => {
      for (const probe of ["/.env", "/..%2foutside.txt", "/assets/..%2f..%2foutside.txt", "/%2e%2e/outside.txt"]) {
        const res = await get(`${local.url}${probe}`);
        expect(res.status, probe).toBeGreaterThanOrEqual(400);
        expect(res.body, probe).not.toContain("SECRET=dotfile");
        expect(res.body, probe).not.toContain("outside the console dir");
      }
    });
  });

  it("without a build: the API works, no console pages, and the banner says how to build it", async () => {
    const missing = path.join(workDir, "not-built");
    const local = await start({ consoleDir: missing });
    expect(local.consoleUrl).toBeUndefined();
    expect(local.consoleDir).toBe(missing);
    expect(localBanner(local)).toContain(`  Console    not built (no index.html in ${missing}): run \`npm run build -w console\`, then restart\n`);
    const page = await get(`${local.url}/dags`, "text/html");
    expect(page.status).toBe(404);
    expect(JSON.parse(page.body)).toMatchObject({ error: { code: "not_found" } });
    const agents = await fetch(`${local.url}/v1/agents`, { headers: { authorization: `Bearer ${local.adminKey}` } });
    expect(agents.status).toBe(200);
  });
});
