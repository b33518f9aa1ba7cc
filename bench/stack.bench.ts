/**
 * `npm run bench:stack`: evaluates the whole prod stack under Pulumi mocks (tests/harness) and
 * prints how long it takes and how many resources it records. The first run includes loading
 * the program's modules; the warm runs are the evaluation alone. Target: under 5 s.
 */
import { performance } from "node:perf_hooks";
import { runStack } from "../tests/harness";

const WARM_RUNS = 5;
const TARGET_MS = 5_000;

async function measure(stack: string) {
  const started = performance.now();
  const run = await runStack({ stack });
  return { ms: performance.now() - started, resources: run.resources.length, custom: run.resources.filter((r) => r.custom).length };
}

async function main() {
  const stack = process.argv[2] ?? "prod";
  const cold = await measure(stack);
  const warm: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) warm.push((await measure(stack)).ms);
  const sorted = [...warm].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  console.log(`stack ${stack}: ${cold.resources} resources recorded (${cold.custom} custom, ${cold.resources - cold.custom} components)`);
  console.log(`  first evaluation (incl. module load): ${cold.ms.toFixed(0)} ms`);
  console.log(`  warm evaluation, median of ${WARM_RUNS}: ${median.toFixed(0)} ms (min ${sorted[0]?.toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms)`);
  console.log(`  target < ${TARGET_MS} ms: ${cold.ms < TARGET_MS ? "met" : "MISSED"}`);
  process.exitCode = cold.ms < TARGET_MS ? 0 : 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
