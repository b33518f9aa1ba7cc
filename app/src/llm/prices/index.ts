/**
 * The versioned LLM price table (price-table.json beside this file): loaded and validated with
 * zod, looked up by `provider/model` (tolerating the dated snapshot names providers answer with),
 * and turned into a cost in integer micro-dollars so sums never drift.
 *
 * Prices are USD per 1M tokens, which is exactly micro-dollars per token.
 */
import { z } from "zod";
import bundledTable from "./price-table.json";
import type { LlmUsage } from "../types";

const usdPerMillion = z
  .number()
  .nonnegative()
  .refine((v) => Math.abs(v * 1e6 - Math.round(v * 1e6)) < 1e-6, "at most 6 decimal places");

const modelPriceSchema = z.strictObject({
  input: usdPerMillion,
  /** Cache reads (OpenAI cached prompt tokens, Anthropic cache_read_input_tokens). */
  cachedInput: usdPerMillion,
  /** Cache writes (Anthropic cache_creation_input_tokens). Default: the input price. */
  cacheWrite: usdPerMillion.optional(),
  output: usdPerMillion,
  /** The most output tokens one response of the model can have: a call's worst case when it sets no max_tokens (docs/budgets.md). */
  maxOutput: z.number().int().positive().optional(),
  aliases: z.array(z.string().regex(/^[a-z0-9-]+\/\S+$/, "provider/model")).optional(),
  note: z.string().optional(),
});

export const priceTableSchema = z.strictObject({
  version: z.string().min(1),
  currency: z.literal("USD"),
  unit: z.literal("per 1M tokens"),
  source: z.string().optional(),
  models: z.record(z.string().regex(/^[a-z0-9-]+\/\S+$/, "keys are provider/model"), modelPriceSchema),
});

export type PriceTableFile = z.infer<typeof priceTableSchema>;

/** Micro-dollars per 1M tokens, as integers. */
export interface ModelPrice {
  readonly model: string;
  readonly input: number;
  readonly cachedInput: number;
  readonly cacheWrite: number;
  readonly output: number;
  /** Output tokens one response can have at most, when the table says. */
  readonly maxOutput?: number;
}

export interface PriceTable {
  readonly version: string;
  /** Price for `provider/model`, or undefined when the table does not list it. */
  lookup(model: string): ModelPrice | undefined;
  readonly models: readonly string[];
}

/** Usage as providers report it; cacheWriteTokens is part of inputTokens (Anthropic only). */
export interface PricedUsage extends LlmUsage {
  readonly cacheWriteTokens?: number;
}

const micro = (usd: number) => Math.round(usd * 1e6);

/** Parses a price table, throwing an error that names the offending key. */
export function loadPriceTable(raw: unknown): PriceTable {
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.map(String).join(".") || "(root)";
    // a bad record key carries the key schema's own message one level down
    const detail = first?.code === "invalid_key" ? first.issues[0]?.message : undefined;
    throw new Error(`invalid price table at ${where}: ${detail ?? first?.message ?? "invalid"}`);
  }
  const byName = new Map<string, ModelPrice>();
  for (const [model, p] of Object.entries(parsed.data.models)) {
    const price: ModelPrice = {
      model,
      input: micro(p.input),
      cachedInput: micro(p.cachedInput),
      cacheWrite: micro(p.cacheWrite ?? p.input),
      output: micro(p.output),
      ...(p.maxOutput !== undefined ? { maxOutput: p.maxOutput } : {}),
    };
    for (const name of [model, ...(p.aliases ?? [])]) {
      if (byName.has(name)) throw new Error(`invalid price table at models.${model}: ${name} is listed twice`);
      byName.set(name, price);
    }
  }
  return {
    version: parsed.data.version,
    models: Object.keys(parsed.data.models),
    lookup(model) {
      for (const candidate of nameCandidates(model)) {
        const hit = byName.get(candidate);
        if (hit) return hit;
      }
      return undefined;
    },
  };
}

/** `gpt-4o-2024-08-06`, `claude-sonnet-4-20250514` and `...-latest` are priced as their base model. */
function nameCandidates(model: string): string[] {
  const stripped = model.replace(/-latest$/, "").replace(/-(\d{8}|\d{4}-\d{2}-\d{2})$/, "");
  return stripped === model ? [model] : [model, stripped];
}

/** Cost in integer micro-dollars (rounded half up per call). */
export function costMicroUsd(price: ModelPrice, usage: PricedUsage): number {
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const uncached = Math.max(0, usage.inputTokens - usage.cachedTokens - cacheWrite);
  // tokens x micro-dollars per 1M tokens: an exact integer while below 2^53 (~9e15), i.e. for
  // any realistic call (1e7 tokens at $100/1M is 1e15).
  const perMillion =
    uncached * price.input + usage.cachedTokens * price.cachedInput + cacheWrite * price.cacheWrite + usage.outputTokens * price.output;
  return Math.round(perMillion / 1e6);
}

export const microToUsd = (micro: number): number => micro / 1e6;

/** The table shipped in the repository. */
export const bundledPriceTable: PriceTable = loadPriceTable(bundledTable);
