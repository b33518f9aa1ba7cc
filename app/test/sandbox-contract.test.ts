/**
 * The sandbox, LLM and telemetry code take service names, the sandbox's names and the service
 * ports and the env var names from `app/src/contract` instead of repeating them: a code literal (not a comment) equal to
 * a contract value is a second source of truth that drifts. Also: every sandbox the drivers start
 * carries the contract's labels and name.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { runtimeEnv, sandboxSpec, services } from "../src/contract";
import { buildSandboxContainer } from "../src/sandbox/docker/container-spec";
import { newSandboxName, sandboxLabels } from "../src/sandbox/identity";
import { buildSandboxPod } from "../src/sandbox/pod-template";

const appSrc = join(__dirname, "..", "src");
/** The areas this guard covers (each owns its code; the contract itself is excluded by construction). */
const guarded = ["sandbox", "llm", "telemetry"];

const contractNames = new Set<string>([services.api.name, services.worker.name, sandboxSpec.namespace, sandboxSpec.image]);
const envNames = new Set<string>(Object.values(runtimeEnv));
const contractPorts = new Set<number>([
  services.api.httpPort,
  services.api.grpcPort,
  services.worker.metricsPort,
  services.postgres.port,
  services.redis.port,
  services.jaeger.otlpGrpcPort,
  services.jaeger.uiPort,
]);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** `file:line: literal` for every string or numeric literal in code that repeats a contract value. */
function duplicatedContractLiterals(file: string, text = readFileSync(file, "utf8")): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, text: string) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    found.push(`${relative(appSrc, file)}:${line}: ${text}`);
  };
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      // Whole words only: "apex-sandbox-" and "apex-worker starting" repeat the name, "apex-sandbox:1" too.
      for (const name of contractNames) {
        if (new RegExp(`(^|[^a-z0-9-])${name}($|[^a-z0-9])`).test(node.text) || node.text.startsWith(`${name}-`)) report(node, JSON.stringify(node.text));
      }
      for (const word of node.text.match(/[A-Z][A-Z0-9_]+/g) ?? []) if (envNames.has(word)) report(node, JSON.stringify(node.text));
    } else if (ts.isNumericLiteral(node) && contractPorts.has(Number(node.text.replace(/_/g, "")))) {
      report(node, node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("one source of truth for names and ports", () => {
  it.each(guarded)("app/src/%s repeats no contract name or port", (area) => {
    const files = tsFiles(join(appSrc, area));
    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((file) => duplicatedContractLiterals(file))).toEqual([]);
  });

  it("the guard flags names and ports in code, not in comments", () => {
    const probe = [
      `// ${services.api.name} listens on ${services.api.httpPort}`,
      `const a = "${services.worker.name}";`,
      `const b = \`${sandboxSpec.image}-\${suffix}\`;`,
      `const c = 9_464;`,
      `const d = "apex-http-fetch/1";`,
      `const e = "set ${runtimeEnv.openaiApiKey}";`,
    ].join("\n");
    expect(duplicatedContractLiterals(join(appSrc, "probe.ts"), probe)).toEqual([
      `probe.ts:2: "${services.worker.name}"`,
      `probe.ts:3: "${sandboxSpec.image}-"`,
      "probe.ts:4: 9464",
      `probe.ts:6: "set ${runtimeEnv.openaiApiKey}"`,
    ]);
  });
});

describe("every sandbox carries the contract's identity", () => {
  it("Pods and Docker containers get the same labels, from the contract", () => {
    expect(sandboxLabels).toMatchObject({
      "app.kubernetes.io/name": sandboxSpec.image,
      "app.kubernetes.io/managed-by": services.worker.name,
    });
    const pod = buildSandboxPod({ name: newSandboxName(), image: "registry.example/x:1", argv: ["true"], labels: { task: "t1" } });
    const container = buildSandboxContainer({ image: "registry.example/x:1", argv: ["true"], env: {}, withStdin: false, labels: { task: "t1" } });
    expect(pod.metadata.labels).toEqual({ task: "t1", ...sandboxLabels });
    expect(container.Labels).toEqual(pod.metadata.labels);
    expect(pod.metadata.namespace).toBe(sandboxSpec.namespace);
  });

  it("sandbox names are fresh DNS-1123 labels named after the sandbox", () => {
    const a = newSandboxName();
    expect(a).toMatch(new RegExp(`^${sandboxSpec.image}-[0-9a-f]{12}$`));
    expect(a.length).toBeLessThanOrEqual(63);
    expect(newSandboxName()).not.toBe(a);
  });
});
