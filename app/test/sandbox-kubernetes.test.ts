import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pod } from "kubernetes-models/v1";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sandboxSpec } from "../src/contract";
import { SandboxError } from "../src/sandbox/errors";
import { KubeClient, inClusterConnection, kubeconfigConnection } from "../src/sandbox/kubernetes/client";
import { KubernetesSandboxDriver } from "../src/sandbox/kubernetes/driver";
import { buildSandboxPod, type SandboxPod } from "../src/sandbox/pod-template";

/**
 * A fake Kubernetes API server on 127.0.0.1: create/get/watch/log/delete for core/v1 Pods with the
 * real API's shapes. It "runs" a created Pod by executing its command as a local process, so the
 * driver's watch, logs, deadline and cleanup paths are exercised end to end.
 */
class FakeKubeApi {
  readonly requests: { method: string; url: string; auth?: string; body?: unknown }[] = [];
  readonly pods = new Map<string, { pod: SandboxPod & { metadata: { resourceVersion: string }; status: Record<string, unknown> }; proc?: ChildProcess; logs: string }>();
  private watchers = new Set<{ name: string; res: ServerResponse }>();
  private rv = 100;
  /** Leave new pods Pending forever (unschedulable). */
  holdPending = false;
  /** Pending with this container waiting reason (e.g. an image the kubelet cannot use). */
  waitingReason: string | undefined;
  /** Close the next watch at once with no events (a dropped connection). */
  dropNextWatch = false;
  private server: Server = createServer((req, res) => void this.handle(req, res));
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    for (const p of this.pods.values()) p.proc?.kill("SIGKILL");
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private bump(name: string, status: Record<string, unknown>): void {
    const entry = this.pods.get(name);
    if (!entry) return;
    entry.pod.status = { ...entry.pod.status, ...status };
    entry.pod.metadata.resourceVersion = String(++this.rv);
    for (const w of this.watchers) if (w.name === name) w.res.write(`${JSON.stringify({ type: "MODIFIED", object: entry.pod })}\n`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    this.requests.push({ method: req.method ?? "", url: req.url ?? "", ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), ...(body ? { body } : {}) });
    const json = (code: number, obj: unknown): void => {
      res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(obj));
    };
    if (req.headers.authorization !== "Bearer test-token") {
      json(401, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Unauthorized", code: 401 });
      return;
    }
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?(\/log)?$/.exec(url.pathname);
    if (!m) return json(404, { kind: "Status", code: 404, reason: "NotFound" });
    const [, , name, log] = m;
    if (req.method === "POST" && !name) {
      const pod = body as SandboxPod;
      const entry = { pod: { ...pod, metadata: { ...pod.metadata, resourceVersion: String(++this.rv), uid: "u" }, status: { phase: "Pending" } }, logs: "" };
      this.pods.set(pod.metadata.name, entry);
      json(201, entry.pod);
      const waiting = this.waitingReason;
      if (waiting) {
        setTimeout(() => this.bump(pod.metadata.name, { containerStatuses: [{ name: "sandbox", ready: false, restartCount: 0, image: pod.spec.containers[0].image, imageID: "", state: { waiting: { reason: waiting, message: "bad image reference" } } }] }), 20);
      } else if (!this.holdPending) setTimeout(() => this.runPod(pod.metadata.name), 20);
      return;
    }
    if (req.method === "GET" && !name && url.searchParams.get("watch") === "true") {
      const target = /^metadata\.name=(.+)$/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1] ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      if (this.dropNextWatch) {
        this.dropNextWatch = false;
        res.end();
        return;
      }
      const entry = this.pods.get(target);
      if (entry && Number(entry.pod.metadata.resourceVersion) > Number(url.searchParams.get("resourceVersion") ?? 0)) {
        res.write(`${JSON.stringify({ type: "MODIFIED", object: entry.pod })}\n`);
      }
      const w = { name: target, res };
      this.watchers.add(w);
      res.on("close", () => this.watchers.delete(w));
      return;
    }
    const entry = name ? this.pods.get(name) : undefined;
    if (!entry) return json(404, { kind: "Status", code: 404, reason: "NotFound" });
    if (req.method === "GET" && log) {
      if (entry.pod.status.phase === "Pending") return json(400, { kind: "Status", code: 400, message: "container is waiting to start" });
      const limit = Number(url.searchParams.get("limitBytes") ?? Infinity);
      res.writeHead(200, { "content-type": "text/plain" }).end(Buffer.from(entry.logs).subarray(0, limit));
      return;
    }
    if (req.method === "GET") return json(200, entry.pod);
    if (req.method === "DELETE") {
      entry.proc?.kill("SIGKILL");
      this.pods.delete(name!);
      for (const w of this.watchers) if (w.name === name) w.res.end(`${JSON.stringify({ type: "DELETED", object: entry.pod })}\n`);
      return json(200, entry.pod);
    }
    json(405, { kind: "Status", code: 405 });
  }

  /** Runs the pod's container command like a kubelet would, enforcing activeDeadlineSeconds. */
  private runPod(name: string): void {
    const entry = this.pods.get(name);
    if (!entry) return;
    const c = entry.pod.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    const proc = spawn(c.command[0]!, c.command.slice(1), { env: { PATH: "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    entry.proc = proc;
    proc.stdout?.on("data", (d: Buffer) => (entry.logs += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (entry.logs += d.toString()));
    this.bump(name, { phase: "Running", startTime: new Date().toISOString() });
    let deadline = false;
    const t = setTimeout(() => {
      deadline = true;
      proc.kill("SIGKILL");
    }, entry.pod.spec.activeDeadlineSeconds * 1000);
    proc.on("close", (code) => {
      clearTimeout(t);
      const exitCode = code ?? 137;
      const terminated = { exitCode, reason: exitCode === 0 ? "Completed" : "Error" };
      this.bump(name, {
        phase: exitCode === 0 && !deadline ? "Succeeded" : "Failed",
        ...(deadline ? { reason: "DeadlineExceeded", message: `Pod was active on the node longer than the specified deadline` } : {}),
        containerStatuses: [{ name: c.name, ready: false, restartCount: 0, image: c.image, imageID: "", state: { terminated } }],
      });
    });
  }
}

const validate = (pod: unknown): void => new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();

describe("sandbox pod template", () => {
  const pod = buildSandboxPod({ name: "apex-sbx-1", image: "registry.example/apex-sandbox@sha256:abc", argv: ["python3", "-c", "print(1)"], env: { A: "b" }, timeoutMs: 2500, runtimeClassName: "gvisor" });

  it("is a valid core/v1 Pod per the Kubernetes OpenAPI schema", () => {
    expect(() => validate(pod)).not.toThrow();
  });

  it("carries every sandbox constraint from the contract", () => {
    const c = pod.spec.containers[0];
    expect(pod.metadata.namespace).toBe(sandboxSpec.namespace);
    expect(pod.spec).toMatchObject({
      restartPolicy: "Never",
      activeDeadlineSeconds: 3,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      runtimeClassName: "gvisor",
      securityContext: { runAsNonRoot: true, runAsUser: sandboxSpec.user.uid, runAsGroup: sandboxSpec.user.gid, seccompProfile: { type: "RuntimeDefault" } },
      volumes: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: sandboxSpec.tmpfs.kubernetes } }],
    });
    expect(c.command).toEqual(["python3", "-c", "print(1)"]);
    expect(c.env).toEqual([{ name: "A", value: "b" }]);
    expect(c.resources).toEqual({
      limits: { cpu: sandboxSpec.cpu.kubernetes, memory: sandboxSpec.memory.kubernetes },
      requests: { cpu: sandboxSpec.cpu.kubernetes, memory: sandboxSpec.memory.kubernetes },
    });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: sandboxSpec.user.uid,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.volumeMounts).toEqual([{ name: "tmp", mountPath: sandboxSpec.tmpfs.path }]);
  });

  it("omits runtimeClassName unless asked and defaults the deadline to the contract's timeout", () => {
    const p = buildSandboxPod({ name: "x", image: "i:1", argv: ["true"] });
    expect(p.spec.runtimeClassName).toBeUndefined();
    expect(p.spec.activeDeadlineSeconds).toBe(sandboxSpec.defaultTimeoutMs / 1000);
    validate(p);
  });

  it("carries the node pool's selector and tolerations when given, and stays a valid Pod", () => {
    const tolerations = [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }, { key: "gvisor", operator: "Exists", effect: "NoExecute" }] as const;
    const p = buildSandboxPod({ name: "x", image: "i:1", argv: ["true"], nodeSelector: { "apex.dev/pool": "sandbox" }, tolerations });
    expect(p.spec.nodeSelector).toEqual({ "apex.dev/pool": "sandbox" });
    expect(p.spec.tolerations).toEqual(tolerations);
    validate(p);
    const plain = buildSandboxPod({ name: "x", image: "i:1", argv: ["true"], nodeSelector: {}, tolerations: [] });
    expect([plain.spec.nodeSelector, plain.spec.tolerations]).toEqual([undefined, undefined]);
  });

  it("rejects a bad node selector or toleration naming the field", () => {
    expect(() => buildSandboxPod({ name: "ok", image: "i", argv: ["x"], nodeSelector: { "apex.dev/pool": "not ok!" } })).toThrow(/nodeSelector: apex\.dev\/pool: expected a label value/);
    expect(() => buildSandboxPod({ name: "ok", image: "i", argv: ["x"], tolerations: [{ key: "k", operator: "Exists", value: "v", effect: "NoSchedule" }] }))
      .toThrow(/tolerations: 0\.value: expected no value with operator "Exists"/);
  });

  it("rejects bad input naming the field", () => {
    expect(() => buildSandboxPod({ name: "Bad_Name", image: "i", argv: ["x"] })).toThrow(/name "Bad_Name"/);
    expect(() => buildSandboxPod({ name: "ok", image: "i", argv: ["x"], env: { "A-B": "1" } })).toThrow(/env\.A-B/);
    expect(() => buildSandboxPod({ name: "ok", image: "", argv: ["x"] })).toThrow(/image/);
    expect(() => buildSandboxPod({ name: "ok", image: "i", argv: [] })).toThrow(/argv/);
  });
});

describe("kubernetes sandbox driver against a fake API server", () => {
  const api = new FakeKubeApi();
  let dir: string;
  let driver: KubernetesSandboxDriver;
  const req = (argv: string[], extra: Record<string, unknown> = {}) => ({ argv, timeoutMs: 10_000, signal: new AbortController().signal, ...extra });

  beforeAll(async () => {
    await api.start();
    dir = mkdtempSync(join(tmpdir(), "apex-kube-"));
    writeFileSync(
      join(dir, "kubeconfig"),
      `apiVersion: v1
kind: Config
current-context: test
clusters: [{ name: fake, cluster: { server: "${api.url}" } }]
users: [{ name: worker, user: { token: test-token } }]
contexts: [{ name: test, context: { cluster: fake, user: worker, namespace: apex-sandbox } }]
`,
    );
    driver = new KubernetesSandboxDriver({ image: "apex-sandbox:test", kubeconfigPath: join(dir, "kubeconfig"), startupGraceMs: 1000 });
  });
  afterEach(() => {
    api.holdPending = false;
    api.waitingReason = undefined;
  });
  afterAll(async () => {
    driver.close();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a valid, constrained Pod, returns its output and exit code, then deletes it", async () => {
    const r = await driver.run(req(["python3", "-c", "import os; print('hi', os.environ['X'])"], { env: { X: "1" } }));
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi 1\n", timedOut: false, oomKilled: false });
    expect(r.limits?.pids).toMatch(/podPidsLimit/);
    const create = api.requests.find((q) => q.method === "POST");
    expect(create?.url).toBe(`/api/v1/namespaces/${sandboxSpec.namespace}/pods`);
    expect(create?.auth).toBe("Bearer test-token");
    const pod = create?.body as SandboxPod;
    validate(pod);
    expect(pod.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(api.requests.some((q) => q.method === "DELETE" && q.url.startsWith(`/api/v1/namespaces/${sandboxSpec.namespace}/pods/${pod.metadata.name}`))).toBe(true);
    expect(api.pods.size).toBe(0);
  });

  it("puts the Pod on the sandbox node pool with the RuntimeClass it was configured with", async () => {
    const placed = new KubernetesSandboxDriver({
      image: "apex-sandbox:test",
      kubeconfigPath: join(dir, "kubeconfig"),
      startupGraceMs: 1000,
      runtimeClassName: "gvisor",
      nodeSelector: { "apex.dev/pool": "sandbox" },
      tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
    });
    try {
      api.requests.length = 0;
      const r = await placed.run(req(["python3", "-c", "print(1)"]));
      expect(r.exitCode).toBe(0);
      expect(r.limits?.isolation).toBe("pod (runtimeClass gvisor) on nodes apex.dev/pool=sandbox");
      const pod = api.requests.find((q) => q.method === "POST")?.body as SandboxPod;
      validate(pod);
      expect(pod.spec).toMatchObject({
        runtimeClassName: "gvisor",
        nodeSelector: { "apex.dev/pool": "sandbox" },
        tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
      });
    } finally {
      placed.close();
    }
  });

  it("reports a failing program's exit code and merged logs", async () => {
    const r = await driver.run(req(["python3", "-c", "import sys; print('out'); sys.exit(4)"]));
    expect(r.exitCode).toBe(4);
    expect(r.stdout).toBe("out\n");
  });

  it("maps activeDeadlineSeconds to a timeout", async () => {
    const r = await driver.run(req(["python3", "-c", "import time; print('begin', flush=True); time.sleep(30)"], { timeoutMs: 1000 }));
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.stdout).toBe("begin\n");
  });

  it("gives up on a Pod that never starts and deletes it", async () => {
    api.holdPending = true;
    const r = await driver.run(req(["true"], { timeoutMs: 500 }));
    expect(r).toMatchObject({ timedOut: true, exitCode: null, stdout: "" });
    expect(api.pods.size).toBe(0);
  });

  it("fails at once, and cleans up, when the container can never start", async () => {
    api.waitingReason = "InvalidImageName";
    const t0 = Date.now();
    await expect(driver.run(req(["true"], { timeoutMs: 20_000 }))).rejects.toThrow(/cannot start: InvalidImageName: bad image reference/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(api.pods.size).toBe(0);
  });

  it("resumes after a dropped watch", async () => {
    api.dropNextWatch = true;
    const r = await driver.run(req(["python3", "-c", "print('ok')"]));
    expect(r.stdout).toBe("ok\n");
  });

  it("deletes the Pod when the request is aborted", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await driver.run(req(["python3", "-c", "import time; time.sleep(30)"], { signal: ac.signal }));
    expect(r.aborted).toBe(true);
    expect(api.pods.size).toBe(0);
  });

  it("rejects stdin and network allowlists it cannot honour", async () => {
    await expect(driver.run(req(["cat"], { stdin: "x" }))).rejects.toThrow(/stdin is not supported/);
    await expect(driver.run(req(["true"], { networkAllowlist: ["example.com"] }))).rejects.toThrow(SandboxError);
  });

  it("surfaces API errors with the status (e.g. a wrong token)", async () => {
    const bad = new KubernetesSandboxDriver({ image: "i:1", connection: { server: api.url, token: "nope" } });
    await expect(bad.run(req(["true"]))).rejects.toThrow(/HTTP 401/);
    bad.close();
  });
});

describe("kubernetes connections", () => {
  it("reads the in-cluster service account", () => {
    const sa = mkdtempSync(join(tmpdir(), "apex-sa-"));
    writeFileSync(join(sa, "token"), "tok\n");
    writeFileSync(join(sa, "ca.crt"), "CA");
    writeFileSync(join(sa, "namespace"), "apex");
    const c = inClusterConnection({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "6443" }, sa);
    expect(c).toMatchObject({ server: "https://10.0.0.1:6443", token: "tok", namespace: "apex" });
    expect(c.ca?.toString()).toBe("CA");
    expect(() => inClusterConnection({}, sa)).toThrow(/KUBERNETES_SERVICE_HOST/);
    rmSync(sa, { recursive: true, force: true });
  });

  it("reads client certificates from a kubeconfig and names a missing context", () => {
    const d = mkdtempSync(join(tmpdir(), "apex-kc-"));
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    writeFileSync(
      join(d, "config"),
      `current-context: a
clusters: [{ name: c, cluster: { server: "https://k.example:6443", certificate-authority-data: ${b64("CA")} } }]
users: [{ name: u, user: { client-certificate-data: ${b64("CERT")}, client-key-data: ${b64("KEY")} } }]
contexts: [{ name: a, context: { cluster: c, user: u } }]
`,
    );
    const c = kubeconfigConnection(join(d, "config"));
    expect([c.server, c.ca?.toString(), c.cert?.toString(), c.key?.toString()]).toEqual(["https://k.example:6443", "CA", "CERT", "KEY"]);
    expect(() => kubeconfigConnection(join(d, "config"), "other")).toThrow(/no context "other"/);
    rmSync(d, { recursive: true, force: true });
  });
});

describe("kubernetes client over TLS", () => {
  it("trusts the cluster CA it is given, and only that", async () => {
    const d = mkdtempSync(join(tmpdir(), "apex-tls-"));
    try {
      const gen = spawnSync("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(d, "key.pem"), "-out", join(d, "cert.pem"),
      ]);
      if (gen.error || gen.status !== 0) {
        console.warn(`skipped: openssl cannot make a test certificate (${gen.error?.message ?? gen.stderr.toString()})`);
        return;
      }
      const cert = readFileSync(join(d, "cert.pem"));
      const seen: string[] = [];
      const server = createHttpsServer({ cert, key: readFileSync(join(d, "key.pem")) }, (req, res) => {
        seen.push(req.headers.authorization ?? "");
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ kind: "PodList", items: [] }));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const server_ = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
      try {
        const good = new KubeClient({ server: server_, token: "t0k", ca: cert });
        expect(await good.request("GET", "/api/v1/namespaces/apex-sandbox/pods")).toEqual({ kind: "PodList", items: [] });
        expect(seen).toEqual(["Bearer t0k"]);
        good.close();
        const untrusted = new KubeClient({ server: server_, token: "t0k" });
        await expect(untrusted.request("GET", "/api/v1/namespaces/apex-sandbox/pods")).rejects.toThrow(/self[- ]signed/i);
        untrusted.close();
        expect(seen).toHaveLength(1); // the token never went to a server it could not verify
      } finally {
        server.closeAllConnections();
        server.close();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
