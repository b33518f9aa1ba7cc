import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/* eslint-disable @typescript-eslint/no-explicit-any -- a parsed workflow is untyped YAML. */
const root = join(__dirname, "..");
const workflowDir = join(root, ".github", "workflows");
const workflow: any = parse(readFileSync(join(workflowDir, "ci.yml"), "utf8"));
const scripts: Record<string, string> = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts;
const jobs: Record<string, any> = workflow.jobs;

const allSteps = (): { job: string; step: any }[] => Object.entries(jobs).flatMap(([job, j]) => (j.steps as any[]).map((step) => ({ job, step })));
const pulumiSteps = (job: string) => (jobs[job].steps as any[]).filter((s) => typeof s.uses === "string" && s.uses.startsWith("pulumi/actions@"));

describe(".github/workflows/ci.yml", () => {
  it("is the only workflow and triggers on pull requests and pushes to main", () => {
    expect(readdirSync(workflowDir)).toEqual(["ci.yml"]);
    expect(workflow.on.pull_request.branches).toEqual(["main"]);
    expect(workflow.on.push.branches).toEqual(["main"]);
    expect(workflow.permissions).toEqual({ contents: "read" });
  });

  it("pins every action to a full commit SHA (its tag in a comment) and every service image to an exact tag", () => {
    const uses = allSteps().map(({ step }) => step.uses).filter((u): u is string => typeof u === "string");
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u, u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    // A tag can be moved to other code; the comment says which release the SHA was taken from.
    const usesLines = readFileSync(join(workflowDir, "ci.yml"), "utf8").split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
    expect(usesLines).toHaveLength(uses.length);
    for (const line of usesLines) expect(line, line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    for (const j of Object.values(jobs)) for (const svc of Object.values(j.services ?? {}) as any[]) expect(svc.image).toMatch(/:\d+\.\d+(\.\d+)?-alpine$/);
    expect(workflow.env.NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(workflow.env.RUNTIME_NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(workflow.env.PULUMI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    for (const j of Object.values(jobs)) expect(j["runs-on"]).toMatch(/^ubuntu-\d+\.\d+$/);
  });

  it("the Pulumi CLI pin matches the Pulumi SDK the program is locked to", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
    expect(workflow.env.PULUMI_VERSION).toBe(lock.packages["node_modules/@pulumi/pulumi"].version);
  });

  it("tests run npm ci, lint, type-check and the tests, each an npm script that exists", () => {
    const runs = (jobs.test.steps as any[]).map((s) => s.run).filter((r): r is string => typeof r === "string");
    expect(runs.filter((r) => r.startsWith("npm "))).toEqual(["npm ci --no-audit --no-fund", "npm run lint", "npm run typecheck", "npm run test:unit"]);
    for (const { step } of allSteps()) {
      if (typeof step.run !== "string") continue;
      for (const m of step.run.matchAll(/npm run ([\w:-]+)/g)) expect(scripts, `script ${m[1]}`).toHaveProperty(m[1]!);
    }
    expect(jobs.test.env.DATABASE_URL).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\/test$/);
  });

  it("installs every Debian package .ci/run installs", () => {
    const ciRun = readFileSync(join(root, ".ci", "run"), "utf8");
    const needed = [...ciRun.matchAll(/need\+=\(([\w.-]+)\)/g)].map((m) => m[1]!);
    expect(needed.length).toBeGreaterThan(0);
    const runs = (jobs.test.steps as any[]).map((s) => s.run).filter((r): r is string => typeof r === "string");
    const install = runs.find((r) => r.includes("apt-get install"));
    // Ubuntu's chromium package is a snap wrapper; the runner image ships Chromium, which a step checks.
    const fromRunnerImage: Record<string, string> = { chromium: "/usr/bin/chromium --version" };
    for (const pkg of needed) {
      if (fromRunnerImage[pkg]) expect(runs, pkg).toContain(fromRunnerImage[pkg]);
      else expect(install, pkg).toMatch(new RegExp(`\\s${pkg.replace(".", "\\.")}(\\s|$)`));
    }
  });

  it("runs the app tests again on the runtime image's Node major, as .ci/run does, with the same services", () => {
    const job = jobs["test-runtime-node"];
    expect(job, "no test-runtime-node job").toBeDefined();
    const imageMajor = /^ARG NODE_IMAGE=node:(\d+)[-.]/m.exec(readFileSync(join(root, "app", "Dockerfile"), "utf8"))?.[1];
    const ciRunMajor = /node-linux-\$\w+@(\d+)\b/.exec(readFileSync(join(root, ".ci", "run"), "utf8"))?.[1];
    expect(imageMajor, "app/Dockerfile NODE_IMAGE").toMatch(/^\d+$/);
    expect(ciRunMajor, ".ci/run's Node for the app tests").toBe(imageMajor);
    expect(workflow.env.RUNTIME_NODE_VERSION.split(".")[0]).toBe(imageMajor);
    expect(workflow.env.RUNTIME_NODE_VERSION.split(".")[0]).not.toBe(workflow.env.NODE_VERSION.split(".")[0]);
    expect(job.name).toContain(`Node ${imageMajor}`);
    const steps = job.steps as any[];
    const setupNode = steps.filter((s) => typeof s.uses === "string" && s.uses.startsWith("actions/setup-node@"));
    expect(setupNode).toHaveLength(1);
    expect(setupNode[0].with["node-version"]).toBe("${{ env.RUNTIME_NODE_VERSION }}");
    const runs = steps.map((s) => s.run).filter((r): r is string => typeof r === "string");
    const install = runs.indexOf("npm ci --no-audit --no-fund");
    const appTests = runs.indexOf("npx vitest run app/test");
    expect(install, "npm ci").toBeGreaterThanOrEqual(0);
    expect(appTests, "npx vitest run app/test").toBeGreaterThan(install);
    expect(steps.indexOf(setupNode[0])).toBeLessThan(steps.findIndex((s) => s.run === "npm ci --no-audit --no-fund"));
    // Postgres and Redis exactly as the main test job has them, reached through the same URLs.
    expect(job.services).toEqual(jobs.test.services);
    expect(job.env).toMatchObject({ DATABASE_URL: jobs.test.env.DATABASE_URL, REDIS_URL: jobs.test.env.REDIS_URL });
    // The sandbox tests need bubblewrap and user namespaces, as in the main job.
    expect(runs.some((r) => /apt-get install .*\sbubblewrap(\s|$)/.test(r))).toBe(true);
    expect(runs).toContain("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
  });

  it("previews dev and prod on pull requests under the policy pack, commenting on the PR", () => {
    const preview = jobs.preview;
    expect(preview.if).toBe("github.event_name == 'pull_request'");
    expect(preview.needs).toEqual(["test", "test-runtime-node"]);
    expect(preview.strategy.matrix.stack).toEqual(["dev", "prod"]);
    expect(preview.permissions["pull-requests"]).toBe("write");
    const [step] = pulumiSteps("preview");
    expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", policyPacks: "policy", "comment-on-pr": true });
    expect(step.env.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
    expect(readFileSync(join(root, "policy", "PulumiPolicy.yaml"), "utf8")).toContain("runtime:");
  });

  it("deploys dev then prod on main, prod behind the prod environment's approval, both under the policy pack", () => {
    const dev = jobs["deploy-dev"];
    const prod = jobs["deploy-prod"];
    for (const j of [dev, prod]) expect(j.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(dev.needs).toEqual(["test", "test-runtime-node"]);
    expect(prod.needs).toBe("deploy-dev");
    expect(dev.environment).toBe("dev");
    expect(prod.environment).toBe("prod");
    expect(pulumiSteps("deploy-dev")[0].with).toMatchObject({ command: "up", "stack-name": "dev", policyPacks: "policy" });
    expect(pulumiSteps("deploy-prod")[0].with).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy" });
    for (const j of [dev, prod]) expect(j.concurrency["cancel-in-progress"]).toBe(false);
  });

  it("gives the prod preview and deploy the cluster's kubeconfig and the Vault token, through env, and dev neither", () => {
    const kubeconfigStep = (job: string) => (jobs[job].steps as any[]).find((s) => typeof s.run === "string" && s.run.includes("KUBECONFIG="));
    for (const job of ["preview", "deploy-prod"]) {
      const step = kubeconfigStep(job);
      expect(step, `${job}: no kubeconfig step`).toBeDefined();
      expect(step.env.KUBECONFIG_DATA).toBe("${{ secrets.PROD_KUBECONFIG }}");
      expect(step.run).toContain(">> \"$GITHUB_ENV\"");
      // The kubeconfig step runs before Pulumi does.
      const steps = jobs[job].steps as any[];
      expect(steps.indexOf(step)).toBeLessThan(steps.indexOf(pulumiSteps(job)[0]));
    }
    expect(kubeconfigStep("preview").if).toBe("matrix.stack == 'prod'");
    expect(kubeconfigStep("deploy-dev")).toBeUndefined();
    expect(pulumiSteps("deploy-prod")[0].env.VAULT_TOKEN).toBe("${{ secrets.PROD_VAULT_TOKEN }}");
    expect(pulumiSteps("preview")[0].env.VAULT_TOKEN).toBe("${{ matrix.stack == 'prod' && secrets.PROD_VAULT_TOKEN || '' }}");
    expect(pulumiSteps("deploy-dev")[0].env.VAULT_TOKEN).toBeUndefined();
  });

  it("never echoes a secret into a run step", () => {
    for (const { job, step } of allSteps()) {
      if (typeof step.run === "string") expect(step.run, `${job}: ${step.run}`).not.toMatch(/secrets\./);
    }
  });
});

describe("images in the workflow", () => {
  it("passes the commit to the prod runs as the image tag, and reaches AWS (ECR) through OIDC", () => {
    for (const job of ["preview", "deploy-prod"]) {
      expect(pulumiSteps(job).map((s) => s.env.APEX_IMAGE_TAG), job).toEqual(["${{ github.sha }}"]);
      expect(jobs[job].permissions["id-token"], job).toBe("write");
      expect((jobs[job].steps as any[]).some((s) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@")), job).toBe(true);
    }
  });
});
