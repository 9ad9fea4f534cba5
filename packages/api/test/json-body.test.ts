import { describe, expect, it } from "vitest";
import { GIVEN_TWICE, hiddenJsonProblems, MAX_DEPTH, NOT_AN_INTEGER, TOO_DEEP } from "../src/json-body.ts";

describe("what JSON.parse hides", () => {
  it("names numbers with a fraction or exponent and keys given twice, by their path", () => {
    expect(hiddenJsonProblems('{"a": 1, "b": {"c": [1, 2.0, {"d": 3e2}]}, "a": 2}')).toEqual({
      "b.c.1": NOT_AN_INTEGER,
      "b.c.2.d": NOT_AN_INTEGER,
      a: GIVEN_TWICE,
    });
    expect(hiddenJsonProblems("1.5")).toEqual({ body: NOT_AN_INTEGER });
    // The same key in two objects is no repeat; an escaped key is compared as it reads.
    expect(hiddenJsonProblems('{"x": {"k": 1}, "y": {"k": 1}, "\\u006b": 1, "k": 2}')).toEqual({
      k: GIVEN_TWICE,
    });
  });

  it("passes integers, negative ones, and anything inside strings", () => {
    expect(
      hiddenJsonProblems('{"amount": -42, "n": 0, "s": "1.5e3 \\"k\\": 2.5", "t": true, "u": null}'),
    ).toBeUndefined();
    expect(hiddenJsonProblems("[]")).toBeUndefined();
  });

  it("refuses a deep nesting whole and names ten faults at most: a hostile body costs little", () => {
    expect(hiddenJsonProblems(`${"[".repeat(MAX_DEPTH)}1.5${"]".repeat(MAX_DEPTH)}`)).toEqual({
      [Array.from({ length: MAX_DEPTH }, () => "0").join(".")]: NOT_AN_INTEGER,
    });
    expect(hiddenJsonProblems(`${"[".repeat(MAX_DEPTH + 1)}1${"]".repeat(MAX_DEPTH + 1)}`)).toEqual({
      body: TOO_DEEP,
    });
    expect(hiddenJsonProblems(`${"[".repeat(30_000)}${"1.0,".repeat(8_000)}`)).toEqual({ body: TOO_DEEP });
    const faults = hiddenJsonProblems(`[${Array.from({ length: 5_000 }, () => "1.5").join(",")}]`);
    expect(Object.keys(faults!)).toHaveLength(10);
  });

  it("stops at whatever is not JSON without throwing", () => {
    expect(() => hiddenJsonProblems('{"a": 1.5, "b')).not.toThrow();
    expect(hiddenJsonProblems('{"a": 1.5, "b')).toEqual({ a: NOT_AN_INTEGER });
    expect(() => hiddenJsonProblems('}}]]"')).not.toThrow();
  });
});
