/**
 * Where `npm start` / `npm run demo` take paths and instances from: --data-dir and --file relative
 * to the directory the user typed the command in (INIT_CWD under npm), and the demo's order for
 * its URL (--url, APEX_HTTP_PORT, --data-dir's instance file, the default port's) and key
 * (APEX_API_KEY, APEX_BOOTSTRAP_ADMIN_KEY, the instance file's).
 */
import { spawn } from "node:child_process";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDemoTarget } from "../src/bin/demo-target";
import { instanceFilePath, writeInstanceFile, type InstanceRecord } from "../src/bin/instance-file";
import { displayUserPath, resolveUserPath, userCwd } from "../src/bin/user-path";

describe("paths relative to where the user typed the command", () => {
  it("uses INIT_CWD (npm sets it; the workspace script runs in app/) over the process's cwd", () => {
    expect(userCwd({ INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/home/u/apex");
    expect(resolveUserPath("mydata", { INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/home/u/apex/mydata");
    expect(resolveUserPath("../x.json", { INIT_CWD: "/home/u/apex/examples" }, "/home/u/apex/app")).toBe("/home/u/apex/x.json");
  });

  it("falls back to the process's cwd without INIT_CWD (tsx src/bin/apex-local.ts run by hand)", () => {
    expect(resolveUserPath("mydata", {}, "/home/u/apex/app")).toBe("/home/u/apex/app/mydata");
    expect(resolveUserPath("mydata", { INIT_CWD: "  " }, "/srv")).toBe("/srv/mydata");
  });

  it("keeps absolute paths", () => {
    expect(resolveUserPath("/var/apex", { INIT_CWD: "/home/u/apex" }, "/home/u/apex/app")).toBe("/var/apex");
  });

  it("writes a path back relative to the user's directory when below it, else absolute", () => {
    const env = { INIT_CWD: "/home/u/apex" };
    expect(displayUserPath("/home/u/apex/mydata", env, "/x")).toBe("mydata");
    expect(displayUserPath("/home/u/apex", env, "/x")).toBe(".");
    expect(displayUserPath("/var/apex", env, "/x")).toBe("/var/apex");
    expect(displayUserPath("/home/u/other", env, "/x")).toBe("/home/u/other");
  });
});

/** A pid that surely has exited: a child that ran and was reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

describe("which Apex the demo calls, with which key", () => {
  let home: string;
  const record = (over: Partial<InstanceRecord>): InstanceRecord => ({
    url: "http://localhost:8088",
    grpc: "localhost:50088",
    metricsUrl: "http://localhost:8088/metrics",
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...over,
  });
  // High ports nothing in this suite listens on; their per-port files are this test's own.
  const portA = 60_000 + (process.pid % 2_000);
  const portB = portA + 2_001;

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "apex-demo-target-"));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
    for (const port of [portA, portB]) await rm(path.dirname(instanceFilePath({ httpPort: port })), { recursive: true, force: true });
  });

  it("reads --data-dir relative to INIT_CWD and takes URL and key from its instance file", async () => {
    const dataDir = path.join(home, "mydata");
    await mkdir(dataDir);
    await writeInstanceFile(instanceFilePath({ dataDir, httpPort: 0 }), record({ dataDir, adminKey: "apex_from_the_data_dir_file_xx" }));
    const target = await resolveDemoTarget({ dataDir: "mydata" }, { INIT_CWD: home }, "/nowhere/app");
    expect(target).toMatchObject({
      baseUrl: "http://localhost:8088",
      urlFrom: path.join(dataDir, "apex-instance.json"),
      apiKey: "apex_from_the_data_dir_file_xx",
      keyHolder: "admin",
      instance: { running: true },
    });
  });

  it("puts --url first, then APEX_HTTP_PORT, then the data dir's URL; the key still comes from the file", async () => {
    const env = { INIT_CWD: home };
    expect((await resolveDemoTarget({ dataDir: "mydata", url: "http://127.0.0.1:9999/" }, env)).baseUrl).toBe("http://127.0.0.1:9999");
    const byPort = await resolveDemoTarget({ dataDir: "mydata" }, { ...env, APEX_HTTP_PORT: "8099" });
    expect(byPort).toMatchObject({ baseUrl: "http://localhost:8099", urlFrom: "APEX_HTTP_PORT=8099", apiKey: "apex_from_the_data_dir_file_xx" });
  });

  it("takes APEX_API_KEY, then APEX_BOOTSTRAP_ADMIN_KEY, before the instance file's key", async () => {
    const env = { INIT_CWD: home };
    expect(await resolveDemoTarget({ dataDir: "mydata" }, { ...env, APEX_API_KEY: "k1", APEX_BOOTSTRAP_ADMIN_KEY: "k2" })).toMatchObject({
      apiKey: "k1",
      keyFrom: "APEX_API_KEY",
      keyHolder: "the APEX_API_KEY holder",
    });
    expect(await resolveDemoTarget({ dataDir: "mydata" }, { ...env, APEX_BOOTSTRAP_ADMIN_KEY: "k2" })).toMatchObject({ apiKey: "k2", keyHolder: "admin" });
  });

  it("with APEX_HTTP_PORT, or a loopback --url, takes the key from that port's instance file", async () => {
    await writeInstanceFile(instanceFilePath({ httpPort: portA }), record({ url: `http://localhost:${portA}`, adminKey: "apex_per_port_key_xxxxxxxxxxxx" }));
    expect(await resolveDemoTarget({}, { APEX_HTTP_PORT: String(portA) })).toMatchObject({ baseUrl: `http://localhost:${portA}`, apiKey: "apex_per_port_key_xxxxxxxxxxxx" });
    expect(await resolveDemoTarget({ url: `http://127.0.0.1:${portA}` }, {})).toMatchObject({ apiKey: "apex_per_port_key_xxxxxxxxxxxx" });
    // Never a local key to another host.
    const remote = await resolveDemoTarget({ url: `http://apex.example.com:${portA}` }, {});
    expect(remote.apiKey).toBeUndefined();
    expect(remote.lookedAt).toBeUndefined();
  });

  it("ignores, and says so, a per-port file whose process has exited", async () => {
    const pid = await deadPid();
    const file = instanceFilePath({ httpPort: portB });
    await writeInstanceFile(file, record({ url: `http://localhost:${portB}`, pid, adminKey: "apex_stale_key_xxxxxxxxxxxxxxx" }));
    const target = await resolveDemoTarget({}, { APEX_HTTP_PORT: String(portB) });
    expect(target.apiKey).toBeUndefined();
    expect(target.instance).toBeUndefined();
    expect(target.notes).toEqual([`ignoring ${file}: left by pid ${pid}, which has exited`]);
  });

  it("keeps a data dir's file after its process exited (the key stays valid) and marks it not running", async () => {
    const dataDir = path.join(home, "stopped");
    await mkdir(dataDir);
    const pid = await deadPid();
    await writeInstanceFile(instanceFilePath({ dataDir, httpPort: 0 }), record({ dataDir, pid, adminKey: "apex_kept_key_xxxxxxxxxxxxxxxx" }));
    expect(await resolveDemoTarget({ dataDir }, {})).toMatchObject({ apiKey: "apex_kept_key_xxxxxxxxxxxxxxxx", instance: { running: false } });
  });

  it("names the file it looked for when --data-dir has no instance", async () => {
    await expect(resolveDemoTarget({ dataDir: "empty" }, { INIT_CWD: home })).rejects.toThrow(
      `no Apex instance file in ${path.join(home, "empty")} (looked for ${path.join(home, "empty", "apex-instance.json")})`,
    );
  });

  it("rejects a --url or APEX_HTTP_PORT it cannot use, naming it", async () => {
    await expect(resolveDemoTarget({ url: "localhost:8080" }, {})).rejects.toThrow('--url: expected an http(s) URL, got "localhost:8080"');
    await expect(resolveDemoTarget({}, { APEX_HTTP_PORT: "80a" })).rejects.toThrow('APEX_HTTP_PORT: expected a port number, got "80a"');
  });
});
