/**
 * `npm start` and `npm run demo` agree, for real: apex-local (startLocal, ephemeral ports, data
 * dirs in a temp dir) writes its instance file, and the demo CLI (apex-demo.ts, run as a child
 * process the way npm runs it: cwd app/, INIT_CWD the user's directory) finds it through the
 * banner's `Try:` command, --data-dir or APEX_HTTP_PORT, and shows the research DAG, then a DAG
 * stopped by its budget (--file: that file only); errors name the URL tried. Also: data
 * dirs keep distinct admin keys, a live data dir is not opened twice, stale files are replaced,
 * APEX_METRICS_PORT serves /metrics, request logs are debug lines in local mode, and data dirs
 * apex-local creates ignore themselves in git.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi } from "../src/bin/apex-api";
import { prepareDataDir } from "../src/bin/data-dir";
import { instanceFilePath, readInstanceFile, writeInstanceFile } from "../src/bin/instance-file";
import { startLocal, type LocalRuntime } from "../src/bin/local";
import { demoCommand, localBanner } from "../src/bin/local-banner";
import { logger } from "../src/telemetry/logger";
import { captureLogLines } from "./telemetry-support/log-capture";

const appDir = path.resolve(__dirname, "..");
const tsx = path.resolve(appDir, "../node_modules/.bin/tsx");
const ephemeral = { httpPort: 0, grpcPort: 0 } as const;

/** The process env without the Apex variables of whoever runs the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APEX_|INIT_CWD$|DATABASE_URL$|REDIS_URL$)/.test(k)));
}

/** Runs `npm run demo -- <args>` as npm would: cwd app/, INIT_CWD where the user typed it. */
function demoCli(args: string[], options: { userDir: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(tsx, ["src/bin/apex-demo.ts", ...args], {
    cwd: appDir,
    env: { ...cleanEnv(), INIT_CWD: options.userDir, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += String(c)));
  child.stderr.on("data", (c: Buffer) => (stderr += String(c)));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The arguments after `npm run demo --` of a banner's Try: command. */
function demoArgs(command: string): string[] {
  const rest = command.replace(/^npm run demo( -- )?/, "");
  return rest === "" ? [] : rest.split(" ");
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe("npm start and npm run demo", () => {
  let userDir: string;
  const running: LocalRuntime[] = [];
  const start = async (options: Parameters<typeof startLocal>[0]) => {
    const local = await startLocal({ env: {}, ...options, overrides: { ...ephemeral, ...options?.overrides } });
    running.push(local);
    return local;
  };
  const stop = async (local: LocalRuntime) => {
    running.splice(running.indexOf(local), 1);
    await local.close(2_000);
  };

  beforeAll(async () => {
    userDir = await mkdtemp(path.join(os.tmpdir(), "apex-local-mode-"));
  });
  afterAll(async () => {
    for (const local of running.splice(0)) await local.close(2_000);
    await rm(userDir, { recursive: true, force: true });
  });

  it("the demo finds a data-dir instance through the banner's Try: command, typed where npm start was", async () => {
    const env = { INIT_CWD: userDir };
    const local = await start({ dataDir: path.join(userDir, "mydata") });
    // The data dir, its git self-ignore and the instance file: private, with URLs, pid and key.
    expect(local.instanceFile).toBe(path.join(userDir, "mydata", "apex-instance.json"));
    expect(await mode(path.join(userDir, "mydata"))).toBe(0o700);
    expect(await mode(local.instanceFile!)).toBe(0o600);
    expect(await readFile(path.join(userDir, "mydata", ".gitignore"), "utf8")).toMatch(/^\*$/m);
    expect(await readInstanceFile(local.instanceFile!)).toMatchObject({
      url: local.url,
      grpc: `localhost:${local.api.grpcPort}`,
      pid: process.pid,
      dataDir: path.join(userDir, "mydata"),
      adminKey: local.api.generatedAdminKey,
    });
    expect(local.api.generatedAdminKey).toMatch(/^apex_/);

    const banner = localBanner(local, env, appDir);
    expect(banner).toContain(`Try:  npm run demo -- --data-dir mydata\n`);
    expect(banner).toContain(`  Instance   ${local.instanceFile}\n`);
    expect(banner).toContain(`  Metrics    ${local.url}/metrics\n`);

    const demo = await demoCli(demoArgs(demoCommand(local, env, appDir)), { userDir });
    expect(demo.stderr).toBe("");
    expect(demo.stdout).toContain("  approving python as admin");
    expect(demo.stdout).toMatch(/^DAG [0-9a-f-]{36} succeeded$/m);
    // Then a DAG stopped by its budget ($0.001): the first call fits, the second's worst case does
    // not (refused unsent, no retry), the last task is skipped; the DAG's budget line from GET /v1/dags/:id.
    const budgetPart = demo.stdout.slice(demo.stdout.indexOf("A DAG stopped by its budget (examples/budget-capped.json):"));
    expect(budgetPart).toMatch(/^submitted DAG [0-9a-f-]{36} \(budget-capped\)/m);
    expect(budgetPart).toMatch(/^ {2}outline +succeeded {2}21 in \/ 21 out \/ 0 cached, \$0\.000011$/m);
    const refused = /^ {2}draft +failed: budget_exceeded: dag [0-9a-f-]{36} budget: worst case (\$0\.\d{6}) does not fit: \$0\.000011 spent \+ \$0\.000000 reserved of \$0\.001000 \(lower max_tokens or raise the budget\)$/m.exec(budgetPart);
    expect(refused, budgetPart).not.toBeNull();
    // The example's description states the worst case the runtime computed.
    const example = JSON.parse(await readFile(path.resolve(appDir, "../examples/budget-capped.json"), "utf8")) as { description: string };
    expect(example.description).toContain(`would reserve ${refused![1]}`);
    expect(budgetPart).toMatch(/^ {2}polish +skipped: upstream task "draft" did not succeed$/m);
    expect(budgetPart).toMatch(/^DAG [0-9a-f-]{36} failed$/m);
    expect(budgetPart).toContain("\n  budget: DAG budget (total): limit $0.001000, spent $0.000011, remaining $0.000989\n");
    // Exit 0: the research DAG succeeded and the budget stopped the other, as the demo intends.
    expect(demo.code).toBe(0);
    await stop(local);
    // The data dir keeps its file (and key) after a clean shutdown.
    expect((await readInstanceFile(local.instanceFile!))?.adminKey).toBe(local.api.generatedAdminKey);
  }, 90_000);

  it("honours APEX_HTTP_PORT: the demo calls that port, with the key of that port's instance file", async () => {
    const local = await start({});
    const file = instanceFilePath({ httpPort: local.api.httpPort });
    expect(local.instanceFile).toBe(file);
    expect((await readInstanceFile(file))?.adminKey).toBe(local.api.generatedAdminKey);
    expect(await mode(path.dirname(file))).toBe(0o700);
    // Not the default port: the banner's command names the URL.
    expect(demoCommand(local)).toBe(`npm run demo -- --url ${local.url}`);
    // Without APEX_METRICS_PORT, /metrics is on the API port only.
    expect(local.metricsUrls).toEqual([`${local.url}/metrics`]);

    const demo = await demoCli([], { userDir, env: { APEX_HTTP_PORT: String(local.api.httpPort) } });
    expect(demo.stderr).toBe("");
    expect(demo.stdout).toMatch(/^DAG [0-9a-f-]{36} succeeded$/m);
    expect(demo.code).toBe(0);
    // --file runs that file only, and exits 1 when its DAG does not succeed.
    const oneFile = await demoCli(["--file", path.resolve(appDir, "../examples/budget-capped.json")], { userDir, env: { APEX_HTTP_PORT: String(local.api.httpPort) } });
    expect(oneFile.stderr).toBe("");
    expect(oneFile.stdout).not.toContain("research-brief");
    expect(oneFile.stdout).not.toContain("A DAG stopped by its budget");
    expect(oneFile.stdout).toMatch(/^ {2}draft +failed: budget_exceeded: /m);
    expect(oneFile.code).toBe(1);
    // In memory, the file belongs to the process: gone after a clean shutdown.
    await stop(local);
    expect(await readInstanceFile(file)).toBeUndefined();
    await expect(stat(path.dirname(file))).rejects.toThrow(/ENOENT/);
  }, 90_000);

  it("names the URL it could not reach, and where that URL came from", async () => {
    const port = await freePort();
    const byPort = await demoCli([], { userDir, env: { APEX_HTTP_PORT: String(port), APEX_API_KEY: "apex_any_key_at_all_xxxxxxxx" } });
    expect(byPort.code).toBe(1);
    expect(byPort.stderr).toContain(`demo failed: could not reach Apex at http://localhost:${port} (connection refused) — is npm start running?`);
    expect(byPort.stderr).toContain(`The URL came from APEX_HTTP_PORT=${port}.`);
    // Without any key the demo still says first that nothing answers there.
    const byUrl = await demoCli(["--url", `http://127.0.0.1:${port}`], { userDir });
    expect(byUrl.code).toBe(1);
    expect(byUrl.stderr).toContain(`demo failed: could not reach Apex at http://127.0.0.1:${port} (connection refused)`);
    expect(byUrl.stderr).toContain("The URL came from --url.");
  }, 30_000);

  it("keeps one admin key per data dir: two instances do not share or overwrite keys", async () => {
    const dirA = path.join(userDir, "a");
    const dirB = path.join(userDir, "b");
    const a = await start({ dataDir: dirA });
    const b = await start({ dataDir: dirB });
    const keyA = (await readInstanceFile(a.instanceFile!))?.adminKey;
    const keyB = (await readInstanceFile(b.instanceFile!))?.adminKey;
    expect(keyA).toMatch(/^apex_/);
    expect(keyB).toMatch(/^apex_/);
    expect(keyA).not.toBe(keyB);
    const status = async (url: string, key: string) => (await fetch(`${url}/v1/agents`, { headers: { authorization: `Bearer ${key}` } })).status;
    expect(await status(a.url, keyA!)).toBe(200);
    expect(await status(b.url, keyA!)).toBe(401);
    // A second start of A generates no key; its file still holds the first one, which still works.
    await stop(a);
    const again = await start({ dataDir: dirA });
    expect(again.api.generatedAdminKey).toBeUndefined();
    expect(again.adminKey).toBe(keyA);
    expect((await readInstanceFile(again.instanceFile!))?.adminKey).toBe(keyA);
    expect(await status(again.url, keyA!)).toBe(200);
    expect(localBanner(again)).toContain("  Admin key  generated at the first start of this data dir, saved in the instance file\n");
  }, 90_000);

  it("refuses a data dir another live Apex serves", async () => {
    const dir = path.join(userDir, "busy");
    const first = await start({ dataDir: dir });
    // Another process (pid alive) that answers at the recorded URL: what a second terminal would find.
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const record = (await readInstanceFile(first.instanceFile!))!;
      await writeInstanceFile(first.instanceFile!, { ...record, pid: other.pid! });
      await expect(startLocal({ env: {}, overrides: ephemeral, dataDir: dir })).rejects.toThrow(
        `data dir ${dir} is in use by another Apex (pid ${other.pid}, ${first.url}); stop it first, or use another --data-dir`,
      );
    } finally {
      other.kill();
    }
  }, 60_000);

  it("replaces a per-port file left by a process that exited, and says so", async () => {
    const port = await freePort();
    const file = instanceFilePath({ httpPort: port });
    const exited = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => exited.once("exit", resolve));
    await writeInstanceFile(file, { url: `http://localhost:${port}`, grpc: "localhost:1", metricsUrl: "", pid: exited.pid!, startedAt: "", adminKey: "apex_old" });
    const local = await start({ overrides: { httpPort: port } });
    expect(local.notes).toEqual([`replaced ${file}, left by pid ${exited.pid}, which has exited`]);
    expect(localBanner(local)).toContain(`  Note       replaced ${file}`);
    expect(await readInstanceFile(file)).toMatchObject({ pid: process.pid, adminKey: local.api.generatedAdminKey });
    await stop(local);
  }, 60_000);

  it("serves /metrics on the API port, and on APEX_METRICS_PORT too when set", async () => {
    const local = await start({ env: { APEX_METRICS_PORT: "0" } });
    const [onApiPort, separate] = local.metricsUrls;
    expect(onApiPort).toBe(`${local.url}/metrics`);
    expect(separate).toMatch(/^http:\/\/localhost:\d+\/metrics$/);
    expect(separate).not.toBe(onApiPort);
    for (const url of [onApiPort!, separate!]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("# TYPE apex_tasks_total");
    }
    expect((await readInstanceFile(local.instanceFile!))?.metricsUrl).toBe(onApiPort);
    expect(localBanner(local)).toContain(`  Metrics    ${onApiPort}, ${separate} (APEX_METRICS_PORT)\n`);
    await stop(local);
  }, 60_000);

  it("logs HTTP requests at debug in local mode (at info in apex-api)", async () => {
    const lines: Record<string, unknown>[] = [];
    const stopCapture = captureLogLines(lines);
    const level = logger.level;
    const requestLines = () => lines.filter((l) => l.message === "incoming request" || l.message === "request completed");
    try {
      const local = await start({ instanceFile: false });
      await fetch(`${local.url}/healthz`);
      expect(requestLines()).toEqual([]);

      logger.level = "debug";
      await fetch(`${local.url}/healthz`);
      await expect.poll(() => requestLines().map((l) => l.level)).toEqual(["DEBUG", "DEBUG"]);
      logger.level = level;

      // apex-api keeps Fastify's one INFO line per request (what Loki collects in production).
      lines.length = 0;
      const api = await startApi(local.runtime, { http: 0, grpc: 0 }, "127.0.0.1");
      try {
        await fetch(`http://127.0.0.1:${api.httpPort}/healthz`);
        await expect.poll(() => requestLines().map((l) => l.level)).toEqual(["INFO", "INFO"]);
      } finally {
        await api.close();
      }
      await stop(local);
    } finally {
      logger.level = level;
      stopCapture();
    }
  }, 60_000);

  it("gives only a directory it creates (or an empty one) the .gitignore of *, never one with the user's files", async () => {
    const dir = path.join(userDir, "existing");
    await mkdir(dir);
    await writeFile(path.join(dir, "notes.txt"), "mine\n");
    await prepareDataDir(dir);
    await expect(stat(path.join(dir, ".gitignore"))).rejects.toThrow(/ENOENT/);
    const created = path.join(userDir, "new", "nested");
    await prepareDataDir(created);
    expect(await readFile(path.join(created, ".gitignore"), "utf8")).toMatch(/^\*$/m);
    await writeFile(path.join(userDir, "a-file"), "");
    await expect(prepareDataDir(path.join(userDir, "a-file"))).rejects.toThrow(`--data-dir ${path.join(userDir, "a-file")} is a file, not a directory`);
  });
});
