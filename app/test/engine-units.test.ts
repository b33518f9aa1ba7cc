/** Pure parts of the engine: backoff, templates, the DAG status rule. */
import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../src/engine/backoff";
import { renderDeep, renderTemplate, TemplateError, templateRefs } from "../src/engine/template";

describe("retryDelayMs", () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };
  it("doubles per attempt with equal jitter and a cap", () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, () => 1)).toBe(1_000);
    expect(retryDelayMs(3, policy, () => 0)).toBe(2_000);
    expect(retryDelayMs(3, policy, () => 1)).toBe(4_000);
    expect(retryDelayMs(30, policy, () => 1)).toBe(60_000);
    expect(retryDelayMs(30, policy, () => 0)).toBe(30_000);
  });
  it("spreads retries of the same attempt (jitter)", () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, policy)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });
});

describe("templates", () => {
  const scope = { input: { topic: "queues", n: 3, nested: { a: [1, 2] } }, outputs: { plan: "the plan", stats: { words: 12 } } };
  it("renders input paths, upstream outputs and JSON for non-strings", () => {
    expect(renderTemplate("{{ input.topic }} / {{input.n}} / {{input.nested}}", scope)).toBe('queues / 3 / {"a":[1,2]}');
    expect(renderTemplate("{{tasks.plan.output}} has {{tasks.stats.output.words}} words", scope)).toBe("the plan has 12 words");
    expect(renderDeep({ texts: ["{{tasks.plan.output}}", 5], k: { v: "{{input.topic}}" } }, scope)).toEqual({ texts: ["the plan", 5], k: { v: "queues" } });
  });
  it("refuses unknown roots and missing values by name", () => {
    expect(() => templateRefs("{{env.HOME}}")).toThrow(TemplateError);
    expect(() => renderTemplate("{{input.missing}}", scope)).toThrow("{{input.missing}} has no value");
    expect(() => renderTemplate("{{tasks.other.output}}", scope)).toThrow("{{tasks.other.output}} has no value");
  });
  it("does not read inherited properties", () => {
    expect(() => renderTemplate("{{input.constructor}}", scope)).toThrow(/has no value/);
  });
});
