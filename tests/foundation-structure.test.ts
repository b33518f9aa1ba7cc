import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./harness";

const nameOf = (urn: string) => urn.split("::").pop() ?? "";
const typeOf = (urn: string) => (urn.split("::")[2] ?? "").split("$").pop() ?? "";

/** The pulumi-eks conventions the whole program follows, checked over every recorded resource. */
function structureProblems(run: StackRun): string[] {
  const problems: string[] = [];
  for (const r of run.resources) {
    const where = `${run.stack}: ${r.type} ${r.name}`;
    if (!r.custom && !/^apex:[a-z]+:[A-Z][A-Za-z]+$/.test(r.type)) problems.push(`${where}: component type token is not apex:<module>:<Type>`);
    if (r.custom && !r.parentUrn) problems.push(`${where}: not parented to a component`);
    if (r.parentUrn && !r.name.startsWith(nameOf(r.parentUrn))) problems.push(`${where}: name does not derive from its parent ${nameOf(r.parentUrn)}`);
    if (r.parentUrn && !typeOf(r.parentUrn).startsWith("apex:")) problems.push(`${where}: parent is not an apex component`);
  }
  const names = run.resources.map((r) => `${r.type}::${r.name}`);
  for (const dup of names.filter((n, i) => names.indexOf(n) !== i)) problems.push(`${run.stack}: ${dup} registered twice`);
  return problems;
}

describe("program structure", () => {
  it("every resource of both stacks sits in an apex:<module>:<Type> component and is named after it", async () => {
    const dev = await runStack({ stack: "dev" });
    const prod = await runStack({ stack: "prod" });
    expect(dev.resources.length).toBeGreaterThan(20);
    expect(prod.resources.length).toBeGreaterThan(40);
    expect([...structureProblems(dev), ...structureProblems(prod)]).toEqual([]);
  });

  it("the check notices an orphan resource and a badly named child", async () => {
    const run = await runStack({ stack: "dev" });
    const orphan = { ...run.resources.find((r) => r.custom)!, parentUrn: "" };
    const misnamed = { ...run.resources.find((r) => r.custom && r.parentUrn)!, name: "elsewhere" };
    const problems = structureProblems({ ...run, stack: "dev", resources: [orphan, misnamed] });
    expect(problems).toEqual([
      expect.stringMatching(/: not parented to a component$/),
      expect.stringMatching(/: name does not derive from its parent /),
    ]);
  });
});
