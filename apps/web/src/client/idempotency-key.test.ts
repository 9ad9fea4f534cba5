import { describe, expect, it } from "vitest";
import { SubmitKeys } from "./idempotency-key.ts";

const counting = () => {
  let n = 0;
  return new SubmitKeys(() => `key-${++n}`);
};

describe("SubmitKeys", () => {
  it("keeps the key of content sent again after a failure", () => {
    const keys = counting();
    const first = keys.keyFor({ amount: 100, description: "Tree" });
    expect(keys.keyFor({ amount: 100, description: "Tree" })).toBe(first);
  });

  it("gives changed content a new key, and the first content its own key back", () => {
    const keys = counting();
    const first = keys.keyFor({ amount: 100, description: "Tree" });
    const changed = keys.keyFor({ amount: 200, description: "Tree" });
    expect(changed).not.toBe(first);
    expect(keys.keyFor({ amount: 100, description: "Tree" })).toBe(first);
  });

  it("gives the same content a new key once a submit went through", () => {
    const keys = counting();
    const first = keys.keyFor(100);
    keys.succeeded();
    expect(keys.keyFor(100)).not.toBe(first);
  });
});
