import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.join(__dirname, "..");

/** Every installed copy of a package: node_modules/<name> at any depth (workspaces included). */
function copiesOf(pkg: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    const nm = path.join(dir, "node_modules");
    if (!fs.existsSync(nm) || depth > 6) return;
    if (fs.existsSync(path.join(nm, pkg, "package.json"))) found.push(path.relative(root, path.join(nm, pkg)));
    for (const entry of fs.readdirSync(nm)) {
      if (entry.startsWith(".")) continue;
      const scoped = entry.startsWith("@") ? fs.readdirSync(path.join(nm, entry)).map((e) => path.join(entry, e)) : [entry];
      for (const name of scoped) walk(path.join(nm, name), depth + 1);
    }
  };
  walk(root, 0);
  for (const ws of ["app", "policy"]) walk(path.join(root, ws), 0);
  return [...new Set(found)];
}

describe("dependencies of the program", () => {
  it("installs exactly one @pulumi/pulumi (two copies break mocks and resource identity)", () => {
    expect(copiesOf("@pulumi/pulumi")).toEqual([path.join("node_modules", "@pulumi", "pulumi")]);
  });

  it("declares the program's providers and tools in the root package.json", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      workspaces: string[];
    };
    for (const dep of ["@pulumi/pulumi", "@pulumi/kubernetes", "@pulumi/docker", "@pulumi/random", "zod"]) expect(manifest.dependencies).toHaveProperty(dep);
    for (const dep of ["vitest", "kubernetes-models", "tsx", "yaml"]) expect(manifest.devDependencies).toHaveProperty(dep);
    expect(manifest.workspaces).toEqual(["app", "policy", "console"]);
  });
});
