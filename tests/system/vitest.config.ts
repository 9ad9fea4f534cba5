import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Each file starts a whole system (web + workers); running them one at a time keeps 2 cores sane.
    fileParallelism: false,
  },
});
