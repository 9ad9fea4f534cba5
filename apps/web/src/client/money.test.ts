import { describe, expect, it } from "vitest";
import { formatRoubles, parseRoubles } from "./money.ts";

describe("parseRoubles", () => {
  it.each([
    ["0.01", 1],
    ["0,01", 1],
    ["1", 100],
    ["250", 25_000],
    ["250,5", 25_050],
    ["1234.50", 123_450],
    ["1 234,50", 123_450],
    ["1\u00a0234,50", 123_450],
    ["1\u202f000\u202f000,00", 100_000_000],
    ["  7,00 ", 700],
    ["010", 1_000],
    ["10000000", 1_000_000_000],
    ["10 000 000,00", 1_000_000_000],
  ])("%j → %d kopecks", (input, kopecks) => {
    expect(parseRoubles(input)).toEqual({ ok: true, kopecks });
  });

  it.each([
    "1.005",
    "-1",
    "abc",
    "1e3",
    "",
    "0",
    "0,00",
    "1,2,3",
    "1.",
    ".5",
    "+5",
    "10000000,01",
    "99999999999999999999",
    "NaN",
    "Infinity",
    "1_000",
  ])("rejects %j", (input) => {
    expect(parseRoubles(input).ok).toBe(false);
  });

  it.each(["-5", "−5", "-0,50", " -1 000 "])("says a negative amount %j must be positive", (input) => {
    expect(parseRoubles(input)).toEqual({ ok: false, error: "The amount must be positive" });
  });

  it("explains the format for anything else", () => {
    expect(parseRoubles("-")).toEqual({
      ok: false,
      error: "Enter an amount like 250 or 250,50 (at most two decimals)",
    });
  });
});

describe("formatRoubles", () => {
  it.each([
    [1, "0,01\u00a0₽"],
    [75_000, "750,00\u00a0₽"],
    [100_000, "1\u00a0000,00\u00a0₽"],
    [123_456_789, "1\u00a0234\u00a0567,89\u00a0₽"],
    [0, "0,00\u00a0₽"],
  ])("%d → %j", (kopecks, text) => {
    expect(formatRoubles(kopecks)).toBe(text);
  });

  it("round-trips with parseRoubles", () => {
    for (const kopecks of [1, 99, 100, 12_345, 1_000_000_000]) {
      expect(parseRoubles(formatRoubles(kopecks).replace("₽", ""))).toEqual({ ok: true, kopecks });
    }
  });
});
