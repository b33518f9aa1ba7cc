import { z } from "zod";
import type { ToolDefinition } from "../types";

const maxTextChars = 1024 * 1024;

const textStatsArgs = z
  .strictObject({
    text: z.string().max(maxTextChars, `text must be at most ${maxTextChars} characters`).optional(),
    /** Several texts (e.g. the outputs of a fan-out) aggregated together and counted one by one. */
    texts: z.array(z.string().max(maxTextChars)).max(100, "texts must have at most 100 entries").optional(),
    /** How many of the most frequent words to return. */
    top: z.number().int().min(0).max(100).default(10),
    /** Leave out common English function words from `top_words`. */
    skip_stopwords: z.boolean().default(true),
  })
  .refine((a) => a.text !== undefined || (a.texts !== undefined && a.texts.length > 0), {
    message: "give text or a non-empty texts array",
    path: ["text"],
  });

const stopwords = new Set(
  "a an and are as at be but by for from has have he her his i in is it its of on or our she that the their them they this to was we were what when which who will with you your not no so if than then there these those do does did can could would should may might".split(
    " ",
  ),
);

export interface TextStats {
  readonly characters: number;
  readonly words: number;
  readonly unique_words: number;
  readonly lines: number;
  readonly sentences: number;
  readonly average_word_length: number;
  readonly top_words: readonly { readonly word: string; readonly count: number }[];
}

/** Words: runs of letters/digits (any script) with inner apostrophes or hyphens, lower-cased. */
const wordPattern = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

export function textStats(text: string, top: number, skipStopwords: boolean): TextStats {
  const words = (text.match(wordPattern) ?? []).map((w) => w.toLowerCase());
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()]
    .filter(([w]) => !skipStopwords || !stopwords.has(w))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([word, count]) => ({ word, count }));
  const letters = words.reduce((n, w) => n + [...w].length, 0);
  return {
    characters: [...text].length,
    words: words.length,
    unique_words: counts.size,
    lines: text === "" ? 0 : text.split(/\r\n|\r|\n/).length,
    sentences: (text.match(/[^.!?]*[\p{L}\p{N}][^.!?]*(?:[.!?]+|$)/gu) ?? []).length,
    average_word_length: words.length === 0 ? 0 : Math.round((letters / words.length) * 100) / 100,
    top_words: ranked,
  };
}

/**
 * Counts characters, words, lines and sentences and ranks the most frequent words; with `texts`,
 * the totals over all of them plus each one's stats. Pure code over the data: runs in the worker.
 */
export const textStatsTool: ToolDefinition<typeof textStatsArgs> = {
  name: "text_stats",
  description:
    "Count characters, words, unique words, lines and sentences, and list the most frequent words, of `text` or of all `texts` together (with per-text stats).",
  args: textStatsArgs,
  requiresApproval: false,
  timeoutMs: 5_000,
  run: async (args) => {
    const all = [...(args.text !== undefined ? [args.text] : []), ...(args.texts ?? [])];
    const total = textStats(all.join("\n"), args.top, args.skip_stopwords);
    if (args.texts === undefined) return total;
    return { ...total, per_text: all.map((t) => textStats(t, 0, args.skip_stopwords)) };
  },
};
