import { defineConfig } from "vitest/config";

// Integration tests against a real Postgres and Redis: creating and migrating databases takes seconds.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
