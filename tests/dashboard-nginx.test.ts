/**
 * The apex-dashboard image's server, for real: console/nginx/default.conf.template rendered the
 * way the image's entrypoint renders it (envsubst limited by console/Dockerfile's
 * NGINX_ENVSUBST_FILTER, with the env the program sets), checked with `nginx -t`, then served by
 * nginx in front of a fake API: SPA fallback, caching, security headers, /healthz, the /v1 proxy
 * and an SSE stream that must arrive event by event. Also: what the image build copies and needs.
 *
 * Needs `nginx` (Debian package `nginx`; .ci/run installs it). Without it the nginx tests are
 * skipped with a warning, except in CI, where they fail.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "../app/src/contract";
import { DASHBOARD_USER, dashboardEnv, dashboardSpec } from "../components/dashboard";
import type { Platform } from "../components/service";

const REPO = resolve(__dirname, "..");
const read = (path: string) => readFileSync(join(REPO, path), "utf8");
const TEMPLATE = read("console/nginx/default.conf.template");
const DOCKERFILE = read("console/Dockerfile");

const nginxFound = spawnSync("nginx", ["-v"]).status === 0;
const inCi = process.env.CI === "true";
if (!nginxFound && !inCi) console.warn("nginx not found: skipping the apex-dashboard server tests. Install it with `apt-get install nginx` (Debian/Ubuntu).");
const describeNginx = nginxFound || inCi ? describe : describe.skip;

/** The ENV of the Dockerfile's last stage (the image), `KEY=value` pairs, quotes removed. */
function imageEnv(dockerfile: string): Record<string, string> {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n");
  const lastFrom = lines.map((l) => l.startsWith("FROM ")).lastIndexOf(true);
  const env: Record<string, string> = {};
  for (const line of lines.slice(lastFrom)) {
    if (!line.startsWith("ENV ")) continue;
    for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S+)/g)) env[m[1] as string] = m[3] ?? (m[2] as string);
  }
  return env;
}

/** The entrypoint's envsubst: `$NAME` and `${NAME}` of the defined variables the filter lets through. */
function renderTemplate(template: string, env: Record<string, string>): string {
  const filter = new RegExp(env.NGINX_ENVSUBST_FILTER ?? "");
  let out = template;
  for (const [name, value] of Object.entries(env)) {
    if (!filter.test(name)) continue;
    out = out.replace(new RegExp(`\\$\\{${name}\\}|\\$${name}(?![A-Za-z0-9_])`, "g"), () => value);
  }
  return out;
}

/** What 15-local-resolvers.envsh exports: this machine's name servers. */
function localResolvers(): string {
  const servers = readFileSync("/etc/resolv.conf", "utf8").split("\n").filter((l) => /^nameserver\s/.test(l)).map((l) => l.split(/\s+/)[1] as string);
  return (servers.length > 0 ? servers : ["127.0.0.1"]).map((s) => (s.includes(":") ? `[${s}]` : s)).join(" ");
}

/** The image's http{} context (nginx-unprivileged's nginx.conf: temp files and pid under /tmp), our conf.d included. */
function mainConfig(work: string): string {
  return `pid ${work}/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path ${work}/client_temp;
  proxy_temp_path ${work}/proxy_temp;
  fastcgi_temp_path ${work}/fastcgi_temp;
  uwsgi_temp_path ${work}/uwsgi_temp;
  scgi_temp_path ${work}/scgi_temp;
  include ${work}/conf.d/*.conf;
}
`;
}

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    }).on("error", fail);
  });

const dockerPlatform = { target: "docker" } as unknown as Platform;

describe("the image build", () => {
  it("bakes the contract's port and nginx's user, and substitutes only APEX_* and the name servers", () => {
    const env = imageEnv(DOCKERFILE);
    expect(env[dashboardEnv.port]).toBe(String(services.dashboard.port));
    expect(env[dashboardEnv.apiUpstream]).toBe(`${services.api.name}:${services.api.httpPort}`);
    expect(env.NGINX_ENTRYPOINT_LOCAL_RESOLVERS).toBe("1");
    expect(env.NGINX_ENVSUBST_FILTER).toBe("^(APEX_|NGINX_LOCAL_RESOLVERS)");
    expect(DOCKERFILE).toMatch(new RegExp(`^EXPOSE ${services.dashboard.port}$`, "m"));
    expect(DOCKERFILE.match(/^USER .*$/gm)?.at(-1)).toBe(`USER ${DASHBOARD_USER.uid}:${DASHBOARD_USER.gid}`);
    expect(DOCKERFILE).toMatch(/^ARG NGINX_IMAGE=nginxinc\/nginx-unprivileged:\d+\.\d+-alpine-slim$/m);
    // A fixed number of workers: `auto` would start one per CPU of the node, whatever the limit.
    expect(DOCKERFILE).toContain("sed -i 's/^worker_processes .*;/worker_processes 2;/' /etc/nginx/nginx.conf");
  });

  it("copies every workspace's package.json before npm ci, in both images (npm ci checks the lockfile against all of them)", () => {
    const workspaces = (JSON.parse(read("package.json")) as { workspaces: string[] }).workspaces;
    for (const [dockerfile, ignore] of [["console/Dockerfile", "console/Dockerfile.dockerignore"], ["app/Dockerfile", "app/Dockerfile.dockerignore"]] as const) {
      const text = read(dockerfile);
      for (const ws of workspaces) {
        expect(text, `${dockerfile}: ${ws}/package.json`).toContain(`COPY ${ws}/package.json ${ws}/package.json`);
        expect(read(ignore).split("\n"), `${ignore}: ${ws}/package.json`).toContain(`!${ws}/package.json`);
      }
    }
  });

  it("needs nothing of the console's sources from outside console/ but what it copies: the runtime's API is imported for types only", () => {
    const copied = [...DOCKERFILE.matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) /gm)].map((m) => m[1] as string);
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const outside: string[] = [];
    for (const file of files(join(REPO, "console/src")).filter((f) => /\.tsx?$/.test(f))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+"(\.[^"]+)"/gms)) {
        const target = relative(REPO, resolve(file, "..", m[3] as string));
        if (target.startsWith("console/")) continue;
        if (m[2]) continue; // erased by the build
        outside.push(target);
      }
    }
    for (const target of outside) expect(copied.some((c) => target === c || target.startsWith(c)), `${target} is imported by the console but not copied by console/Dockerfile`).toBe(true);
  });

  it("the template names only the variables the image and the program provide", () => {
    const names = [...new Set([...TEMPLATE.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]))].sort();
    const spec = dashboardSpec({ platform: dockerPlatform, image: { repository: "r", tag: "t", push: false } }, "img");
    expect(names).toEqual([...Object.keys(spec.env ?? {}), "NGINX_LOCAL_RESOLVERS"].sort());
    expect(renderTemplate(TEMPLATE, { ...imageEnv(DOCKERFILE), NGINX_LOCAL_RESOLVERS: "10.96.0.10" })).not.toMatch(/\$\{?(APEX_|NGINX_)/);
  });


  it("keeps the event stream unbuffered and open for an hour (what a short test cannot observe)", () => {
    const v1 = TEMPLATE.match(/location \/v1\/ \{\n(.*?)\n {4}\}\n/s)?.[1] ?? "";
    for (const directive of ["proxy_buffering off;", "proxy_cache off;", "proxy_read_timeout 1h;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";']) {
      expect(v1, directive).toContain(directive);
    }
  });
});

describeNginx("the apex-dashboard server (nginx)", () => {
  const work = mkdtempSync(join(tmpdir(), "apex-dashboard-nginx-"));
  const html = join(work, "html");
  let nginx: ChildProcess | undefined;
  let nginxLog = "";
  let api: Server;
  let base = "";
  const seen: { url?: string; headers?: Record<string, unknown> }[] = [];
  /** The open SSE response of the fake API, finished by the test. */
  let stream: ServerResponse | undefined;

  beforeAll(async () => {
    // The console's build output, as the image holds it (readable by nginx's workers).
    mkdirSync(join(html, "assets"), { recursive: true });
    writeFileSync(join(html, "index.html"), '<!doctype html><div id="root"></div><script type="module" src="/assets/index-Bx9k2.js"></script>');
    writeFileSync(join(html, "assets", "index-Bx9k2.js"), "console.log('apex');");
    for (const d of [work, html, join(html, "assets")]) chmodSync(d, 0o755);

    api = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      if (req.url === "/v1/dags/d1/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write("event: task\ndata: {\"n\":1}\n\n");
        stream = res;
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ url: req.url }));
      });
    });
    const apiPort = await freePort();
    await new Promise<void>((done) => api.listen(apiPort, "127.0.0.1", done));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;

    // The program's env (dashboardSpec) over the image's defaults, as the container gets them.
    const spec = dashboardSpec({ platform: dockerPlatform, image: { repository: "r", tag: "t", push: false } }, "img");
    const env = { ...imageEnv(DOCKERFILE), ...spec.env, [dashboardEnv.port]: String(port), [dashboardEnv.apiUpstream]: `127.0.0.1:${apiPort}`, NGINX_LOCAL_RESOLVERS: localResolvers() } as Record<string, string>;
    const rendered = renderTemplate(TEMPLATE, env).replace("root /usr/share/nginx/html;", `root ${html};`);
    mkdirSync(join(work, "conf.d"));
    writeFileSync(join(work, "conf.d", "default.conf"), rendered);
    writeFileSync(join(work, "nginx.conf"), mainConfig(work));

    const check = spawnSync("nginx", ["-t", "-e", "stderr", "-p", work, "-c", join(work, "nginx.conf")], { encoding: "utf8" });
    expect(check.stderr, "nginx -t").toContain("test is successful");

    nginx = spawn("nginx", ["-e", "stderr", "-p", work, "-c", join(work, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
    nginx.stderr?.on("data", (d: Buffer) => { nginxLog += d.toString(); });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nginx did not start: ${nginxLog}`);
  }, 20_000);

  afterAll(async () => {
    stream?.end();
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx?.once("exit", r));
      nginx.kill("SIGQUIT");
      await exited;
    }
    await new Promise((r) => api?.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  it("answers its own health check", async () => {
    const r = await fetch(`${base}/healthz`);
    expect([r.status, await r.text()]).toEqual([200, "ok\n"]);
  });

  it("serves the app shell for every client route, revalidated on each load, with the security headers", async () => {
    for (const path of ["/", "/dags/0f8fad5b", "/approvals", "/index.html"]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(await r.text(), path).toContain('<div id="root">');
      expect(r.headers.get("cache-control"), path).toBe("no-cache");
      expect(r.headers.get("content-security-policy"), path).toBe(
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
      );
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(r.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(r.headers.get("x-frame-options"), path).toBe("DENY");
      expect(r.headers.get("server"), path).toBe("nginx");
    }
  });

  it("caches hashed assets for a year and answers 404, not the shell, for a missing one", async () => {
    const hit = await fetch(`${base}/assets/index-Bx9k2.js`);
    expect(hit.status).toBe(200);
    expect(hit.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(hit.headers.get("content-type")).toMatch(/javascript/);
    const miss = await fetch(`${base}/assets/index-gone.js`);
    expect(miss.status).toBe(404);
    expect(miss.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("proxies /v1 to the API with path and query intact, the client's address forwarded, the API's caching left alone", async () => {
    const r = await fetch(`${base}/v1/dags?status=running&limit=5`, { headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ url: "/v1/dags?status=running&limit=5" });
    expect(r.headers.get("cache-control")).toBeNull();
    const headers = seen.at(-1)?.headers ?? {};
    expect(headers["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(headers["x-forwarded-proto"]).toBe("https");
    expect(headers["x-real-ip"]).toBe("127.0.0.1");
  });

  it("refuses a body over the API's 1 MiB limit itself", async () => {
    const r = await fetch(`${base}/v1/dags`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(1024 * 1024 + 1) });
    expect(r.status).toBe(413);
  });

  it("streams the DAG event stream event by event (no buffering), while the API keeps it open", async () => {
    const controller = new AbortController();
    const r = await fetch(`${base}/v1/dags/d1/events`, { signal: controller.signal });
    expect(r.headers.get("content-type")).toBe("text/event-stream");
    const reader = r.body!.getReader();
    const first = await Promise.race([
      reader.read().then((c) => new TextDecoder().decode(c.value)),
      new Promise<string>((_, fail) => setTimeout(() => fail(new Error("the first event did not arrive while the stream was open: nginx buffers it")), 3000)),
    ]);
    expect(first).toBe("event: task\ndata: {\"n\":1}\n\n");
    expect(stream?.writableEnded).toBe(false);
    stream?.write("event: dag\ndata: {\"n\":2}\n\n");
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("event: dag\ndata: {\"n\":2}\n\n");
    controller.abort();
  });
});
