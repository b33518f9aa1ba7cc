/** The price table (validation, lookup, integer micro-dollar math) and the deterministic local provider. */
import { describe, expect, it } from "vitest";
import { createCoordination } from "../src/coord";
import { bundledPriceTable, costMicroUsd, countTokens, createLlmGateway, loadPriceTable, localModels, microToUsd } from "../src/llm";
import rawTable from "../src/llm/prices/price-table.json";

const table = (models: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  version: "test-1",
  currency: "USD",
  unit: "per 1M tokens",
  models,
  ...extra,
});

describe("price table", () => {
  it("the bundled table is valid, versioned, and lists the current OpenAI and Anthropic families", () => {
    expect(bundledPriceTable.version).toBe(rawTable.version);
    for (const model of [
      "openai/gpt-4o",
      "openai/gpt-4o-mini",
      "openai/gpt-4.1",
      "openai/gpt-4.1-mini",
      "openai/gpt-4.1-nano",
      "anthropic/claude-sonnet-4-5",
      "anthropic/claude-haiku-4-5",
      "anthropic/claude-opus-4-1",
      "local/echo",
      "local/summarize",
    ]) {
      expect(bundledPriceTable.lookup(model), model).toBeDefined();
    }
    expect(bundledPriceTable.lookup("openai/gpt-4o")).toMatchObject({ input: 2_500_000, cachedInput: 1_250_000, output: 10_000_000 });
  });

  it("prices every local model, so the demo never meets an unpriced model", () => {
    for (const m of localModels) expect(bundledPriceTable.lookup(`local/${m}`), m).toBeDefined();
  });

  it("finds dated snapshots, -latest and aliases, but never a different model by prefix", () => {
    expect(bundledPriceTable.lookup("openai/gpt-4o-mini-2024-07-18")?.model).toBe("openai/gpt-4o-mini");
    expect(bundledPriceTable.lookup("openai/gpt-4o-2024-08-06")?.model).toBe("openai/gpt-4o");
    expect(bundledPriceTable.lookup("anthropic/claude-sonnet-4-20250514")?.model).toBe("anthropic/claude-sonnet-4");
    expect(bundledPriceTable.lookup("anthropic/claude-3-5-haiku-latest")?.model).toBe("anthropic/claude-3-5-haiku");
    expect(bundledPriceTable.lookup("anthropic/claude-opus-4-0")?.model).toBe("anthropic/claude-opus-4");
    expect(bundledPriceTable.lookup("openai/gpt-4o-mini-audio")).toBeUndefined();
    expect(bundledPriceTable.lookup("anthropic/gpt-4o")).toBeUndefined();
  });

  it("rejects bad tables with an error naming the key", () => {
    expect(() => loadPriceTable(table({ "openai/x": { input: -1, cachedInput: 0, output: 0 } }))).toThrow(/models\.openai\/x\.input/);
    expect(() => loadPriceTable(table({ "openai/x": { input: 1, output: 1 } }))).toThrow(/models\.openai\/x\.cachedInput/);
    expect(() => loadPriceTable(table({ "openai/x": { input: 1, cachedInput: 1, output: 1, inptu: 2 } }))).toThrow(/inptu/);
    expect(() => loadPriceTable(table({ "gpt-4o": { input: 1, cachedInput: 1, output: 1 } }))).toThrow(/provider\/model/);
    expect(() => loadPriceTable(table({ "openai/x": { input: 0.0000001, cachedInput: 0, output: 0 } }))).toThrow(/6 decimal/);
    expect(() => loadPriceTable({ ...table({}), version: "" })).toThrow(/version/);
    expect(() =>
      loadPriceTable(
        table({
          "openai/a": { input: 1, cachedInput: 1, output: 1, aliases: ["openai/b"] },
          "openai/b": { input: 1, cachedInput: 1, output: 1 },
        }),
      ),
    ).toThrow(/openai\/b is listed twice/);
  });

  it("computes integer micro-dollars: uncached, cached and cache-write input, and output, each at its price", () => {
    const t = loadPriceTable(table({ "anthropic/m": { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 }, "openai/n": { input: 0.15, cachedInput: 0.075, output: 0.6 } }));
    const m = t.lookup("anthropic/m")!;
    expect(costMicroUsd(m, { inputTokens: 6_000, cachedTokens: 4_000, cacheWriteTokens: 1_000, outputTokens: 200 })).toBe(10_950);
    const n = t.lookup("openai/n")!;
    // a cache-write price defaults to the input price
    expect(n.cacheWrite).toBe(n.input);
    expect(costMicroUsd(n, { inputTokens: 10, cachedTokens: 0, outputTokens: 1 })).toBe(2); // 1.5 + 0.6 = 2.1 -> 2
    expect(costMicroUsd(n, { inputTokens: 1_000_000, cachedTokens: 0, outputTokens: 1_000_000 })).toBe(750_000);
  });

  it("summing integer micro-dollars does not drift like summing float dollars", () => {
    const n = bundledPriceTable.lookup("openai/gpt-4o-mini")!;
    const oneCall = costMicroUsd(n, { inputTokens: 1_000, cachedTokens: 0, outputTokens: 1_000 }); // 150 + 600
    expect(oneCall).toBe(750);
    let micro = 0;
    let floats = 0;
    for (let i = 0; i < 10_000; i++) {
      micro += oneCall;
      floats += microToUsd(oneCall);
    }
    expect(microToUsd(micro)).toBe(7.5);
    expect(floats).not.toBe(7.5); // the reason costs are integers
  });
});

describe("local provider", () => {
  it("counts tokens by one simple rule", () => {
    expect(countTokens("Hello, world!")).toBe(4);
    expect(countTokens("  ")).toBe(0);
    expect(countTokens("naïve café 42x")).toBe(3);
  });

  it("is deterministic: echo, summarize, truncation, usage and demo cost", async () => {
    const coordination = await createCoordination();
    const g = createLlmGateway({ coordination, local: { latencyMs: 5 } });
    const signal = new AbortController().signal;
    const echo = await g.complete({ model: "local/echo", prompt: "Hello, world!", system: "Be kind.", signal });
    expect(echo).toMatchObject({
      provider: "local",
      responseModel: "echo",
      text: "Hello, world!",
      finishReasons: ["stop"],
      usage: { inputTokens: 7, outputTokens: 4, cachedTokens: 0 },
    });
    // 7 x $0.10 + 4 x $0.40 per 1M = 0.7 + 1.6 = 2.3 -> 2 micro-dollars
    expect(echo.costMicroUsd).toBe(2);
    expect(echo.latencyMs).toBeGreaterThanOrEqual(4);
    const again = await g.complete({ model: "local/echo", prompt: "Hello, world!", system: "Be kind.", signal });
    expect({ ...again, latencyMs: 0 }).toEqual({ ...echo, latencyMs: 0 });

    const summary = await g.complete({
      model: "local/summarize",
      prompt: "Redis is fast.  It keeps data in memory!\nIt is single-threaded. Nobody reads this.",
      signal,
    });
    expect(summary.text).toBe("Summary: Redis is fast. It keeps data in memory!");

    const cut = await g.complete({ model: "local/echo", prompt: "one two, three four", maxTokens: 3, signal });
    expect(cut.text).toBe("one two,");
    expect(cut.finishReasons).toEqual(["length"]);
    expect(cut.usage.outputTokens).toBe(3);

    const ac = new AbortController();
    const slow = createLlmGateway({ coordination, local: { latencyMs: 10_000 } });
    const pending = slow.complete({ model: "local/echo", prompt: "x", signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ kind: "cancelled" });
    await coordination.close();
  });
});
