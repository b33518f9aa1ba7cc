import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// One config for the whole repository. Per-file isolation stays on: the Pulumi mock runtime is
// process-global state, so every stack test file needs a fresh module graph.
//
// Workers: vitest's default is one fewer than the cores, which is a single file at a time on a
// 2-core machine. Most files spend their time waiting on Postgres, Redis, child processes and
// sandboxes, so one more file than there are cores keeps both cores busy.
// APEX_TEST_WORKERS overrides it.
const workers = Number(process.env.APEX_TEST_WORKERS) || availableParallelism() + 1;

export default defineConfig({
  test: {
    isolate: true,
    pool: "forks",
    maxWorkers: workers,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: "node", include: ["tests/**/*.test.ts", "app/test/**/*.test.ts", "policy/test/**/*.test.ts"] },
      },
      {
        // The console's component tests: React in jsdom (JSX per console/tsconfig.json), Testing Library's matchers.
        extends: true,
        test: { name: "console", environment: "jsdom", include: ["console/test/**/*.test.tsx"], setupFiles: ["console/test/setup.ts"] },
      },
    ],
  },
});
