import { defineConfig } from "vitest/config";

// These tests start real processes (children, redis-server, Postgres): seconds, not milliseconds.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
