import { defineConfig } from "vitest/config";
import { ignoreKnownUnhandledErrors } from "../../packages/core/test-support/vitest-known-errors.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // These tests start embedded Postgres; see the function for the one error it drops.
    onUnhandledError: ignoreKnownUnhandledErrors,
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Each file starts a whole system (web + workers); running them one at a time keeps 2 cores sane.
    fileParallelism: false,
  },
});
