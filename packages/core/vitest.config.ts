import { defineConfig } from "vitest/config";
import { ignoreKnownUnhandledErrors } from "./test-support/vitest-known-errors.ts";

// These tests start real processes (children, redis-server, Postgres): seconds, not milliseconds.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // These tests start embedded Postgres; see the function for the one error it drops.
    onUnhandledError: ignoreKnownUnhandledErrors,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
