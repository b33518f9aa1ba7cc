/**
 * What the bench compares: the same LLM call bookkeeping with no budget, with three budgets that
 * never refuse (all callers share the agent's), and with an agent budget that refuses most calls.
 */
import type { BudgetLimit, CallWorstCase } from "../../app/src/domain/budget";

export const variantNames = ["no-budget", "3-budgets", "tight"] as const;
export type VariantName = (typeof variantNames)[number];

/** Every call's worst case as the gateway would hand it to beforeSend. */
export const worstCase: CallWorstCase = { microUsd: 1_000, tokens: 1_200 };

/**
 * Every answer costs exactly its worst case, so a settlement moves exactly the reservation to
 * spent: the bench can check each window's spend to the micro-dollar, and the tight budget admits
 * at most a known number of calls.
 */
export const answerUsage = { inputTokens: 700, outputTokens: 500, costMicroUsd: worstCase.microUsd } as const;

/** Far above anything a run spends. */
const neverRefuses: BudgetLimit = { microUsd: 1e12, tokens: 1e12 };

export interface RunBudgets {
  /** The DAG's own budget, set at submission (each caller's DAG has its own). */
  readonly dag?: BudgetLimit;
  /** The agent's day budget: one for all callers, so all of them lock its window. */
  readonly agentDay?: BudgetLimit;
  /** The month budget of each caller's API key (one key per caller: not shared). */
  readonly keyMonth?: BudgetLimit;
}

export interface Variant {
  readonly name: VariantName;
  readonly description: string;
  budgets(totalCalls: number): RunBudgets;
  /** The most calls the budgets let through (undefined: all); a run that sends more fails the bench. */
  admitsAtMost(totalCalls: number): number | undefined;
}

/** The tight budget fits a tenth of the run's calls: 9 in 10 are refused. */
const tightFits = (totalCalls: number) => Math.max(1, Math.floor(totalCalls / 10));

export const variants: readonly Variant[] = [
  {
    name: "no-budget",
    description: "no budget applies: beginCall reserves nothing, recordAnswer settles nothing",
    budgets: () => ({}),
    admitsAtMost: () => undefined,
  },
  {
    name: "3-budgets",
    description: "a DAG budget, the agent's day budget (shared by every caller) and the key's month budget, none ever refusing",
    budgets: () => ({ dag: neverRefuses, agentDay: neverRefuses, keyMonth: neverRefuses }),
    admitsAtMost: () => undefined,
  },
  {
    name: "tight",
    description: "the same three, the agent's day budget fitting a tenth of the calls' worst cases: most calls refused",
    budgets: (totalCalls) => ({ dag: neverRefuses, agentDay: { microUsd: tightFits(totalCalls) * worstCase.microUsd + worstCase.microUsd - 1 }, keyMonth: neverRefuses }),
    admitsAtMost: tightFits,
  },
];
