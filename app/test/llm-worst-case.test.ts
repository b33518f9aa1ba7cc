/**
 * A call's worst case (llm/worst-case.ts and the gateway's worstCase): prompt bounds per provider,
 * the output bound (max_tokens, the provider's default, the price table's maxOutput), and the
 * arithmetic: the real cost of any answer within the bounds never exceeds it.
 */
import { describe, expect, it } from "vitest";
import { encodeChat } from "gpt-tokenizer/encoding/o200k_base";
import { createInProcessCoordination } from "../src/coord/in-process";
import { createLlmGateway } from "../src/llm/gateway";
import { bundledPriceTable, costMicroUsd } from "../src/llm/prices";
import { countTokens } from "../src/llm/providers/local";
import { anthropicFramingTokens, callWorstCase, promptTokenBound } from "../src/llm/worst-case";

const gateway = createLlmGateway({
  coordination: createInProcessCoordination(),
  openai: { apiKey: "sk-x", baseURL: "http://127.0.0.1:9/v1" },
  anthropic: { apiKey: "sk-x", baseURL: "http://127.0.0.1:9" },
});

describe("prompt token bounds", () => {
  it("openai: OpenAI's o200k tokenizer over the chat as sent (system + user, framing included)", () => {
    const req = { system: "You are terse.", prompt: "Hello world" };
    const bound = promptTokenBound("openai", req);
    expect(bound).toBe(
      encodeChat(
        [
          { role: "system", content: req.system },
          { role: "user", content: req.prompt },
        ],
        "gpt-4o",
      ).length,
    );
    // The content alone is 6 tokens; the chat framing adds to it.
    expect(bound).toBeGreaterThan(6);
  });

  it("anthropic: UTF-8 bytes plus the framing allowance (multi-byte text counts every byte)", () => {
    expect(promptTokenBound("anthropic", { prompt: "héllo" })).toBe(6 + anthropicFramingTokens);
    expect(promptTokenBound("anthropic", { system: "ab", prompt: "\u{1F600}" })).toBe(2 + 4 + anthropicFramingTokens);
  });

  it("local: its own exact count", () => {
    expect(promptTokenBound("local", { system: "a b", prompt: "c, d" })).toBe(countTokens("a b") + countTokens("c, d"));
  });
});

describe("the worst case", () => {
  it("rounds up the dearest input rate and the output rate: any answer within the bounds costs at most that", () => {
    const price = bundledPriceTable.lookup("anthropic/claude-sonnet-4")!;
    const worst = callWorstCase(1_001, 333, price);
    // cache writes are the dearest input: $3.75 per 1M
    expect(worst).toEqual({ microUsd: Math.ceil((1_001 * 3_750_000 + 333 * 15_000_000) / 1e6), tokens: 1_334 });
    for (const usage of [
      { inputTokens: 1_001, outputTokens: 333, cachedTokens: 0 },
      { inputTokens: 1_001, outputTokens: 333, cachedTokens: 500 },
      { inputTokens: 1_001, outputTokens: 333, cachedTokens: 0, cacheWriteTokens: 1_001 },
      { inputTokens: 1, outputTokens: 1, cachedTokens: 0 },
    ]) {
      expect(costMicroUsd(price, usage)).toBeLessThanOrEqual(worst.microUsd);
    }
  });

  it("an unpriced model costs nothing but its tokens still count", () => {
    expect(callWorstCase(10, 20, undefined)).toEqual({ microUsd: 0, tokens: 30 });
  });

  it("output bound: the call's max_tokens, else the provider's default, else the price table's maxOutput", () => {
    const prompt = "Count the ways.";
    const openaiPrompt = promptTokenBound("openai", { prompt });
    expect(gateway.worstCase({ model: "openai/gpt-4o-mini", prompt, maxTokens: 50 })!.tokens).toBe(openaiPrompt + 50);
    // OpenAI has no default of its own: the model's output limit.
    expect(gateway.worstCase({ model: "openai/gpt-4o-mini", prompt })!.tokens).toBe(openaiPrompt + 16_384);
    expect(gateway.worstCase({ model: "openai/gpt-4o-mini-2024-07-18", prompt })!.tokens).toBe(openaiPrompt + 16_384);
    // Anthropic's provider always sends max_tokens (1024 unless the task sets one).
    expect(gateway.worstCase({ model: "anthropic/claude-3-5-haiku", prompt })!.tokens).toBe(promptTokenBound("anthropic", { prompt }) + 1_024);
    // local answers are capped at 4096 tokens.
    expect(gateway.worstCase({ model: "local/echo", prompt })!.tokens).toBe(countTokens(prompt) + 4_096);
    expect(gateway.worstCase({ model: "openai/gpt-9", prompt })).toBeUndefined();
  });
});
