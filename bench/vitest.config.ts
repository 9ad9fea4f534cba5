import { defineConfig } from "vitest/config";

// Unit tests of the bench's pure parts only: the bench itself is `npm run bench`, never a test.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
  },
});
