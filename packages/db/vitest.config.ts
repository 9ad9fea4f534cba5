import { defineConfig } from "vitest/config";

// Integration tests against a real Postgres: creating and migrating databases takes seconds, not ms.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
