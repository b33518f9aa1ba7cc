import { defineConfig } from "vitest/config";

// One config for the whole repository. Per-file isolation stays on: the Pulumi mock runtime is
// process-global state, so every stack test file needs a fresh module graph.
export default defineConfig({
  test: {
    isolate: true,
    pool: "forks",
    include: ["tests/**/*.test.ts", "app/test/**/*.test.ts", "policy/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
