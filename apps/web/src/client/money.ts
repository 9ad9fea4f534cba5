// Money in the browser: roubles typed by a person ↔ integer kopecks, by string arithmetic only.
// A float never holds money here: "0.1 + 0.2" problems cannot reach an order.

import { amountInputSchema } from "@gozon/api/inputs";
import { MAX_AMOUNT } from "@gozon/messaging/limits";

export type ParsedAmount = { ok: true; kopecks: number } | { ok: false; error: string };

/**
 * Parses "1000", "1000.5", "1000,50", "1 000,00" (spaces, no-break spaces or narrow no-break spaces as
 * thousands separators) into kopecks. At most two decimals; no signs, exponents or other characters.
 */
export function parseRoubles(input: string): ParsedAmount {
  const text = input.trim().replace(/[\s\u00a0\u202f]/g, "");
  const match = /^(\d+)(?:[.,](\d{1,2}))?$/.exec(text);
  // A minus (hyphen or the typographic one) before an amount: say what is wrong, not how to write one.
  if (!match && /^[-\u2212]\d/.test(text)) return { ok: false, error: "The amount must be positive" };
  if (!match) {
    return { ok: false, error: "Enter an amount like 250 or 250,50 (at most two decimals)" };
  }
  const [, whole = "", fraction = ""] = match;
  const digits = (whole.replace(/^0+(?=\d)/, "") + fraction.padEnd(2, "0")).replace(/^0+(?=\d)/, "");
  // Compare as strings first: a huge input must not turn into an imprecise number.
  if (digits.length > String(MAX_AMOUNT).length) return { ok: false, error: tooLarge };
  const kopecks = Number(digits);
  // The server's own rule for amounts decides what is in range.
  if (!amountInputSchema.safeParse(kopecks).success) {
    return { ok: false, error: kopecks < 1 ? "The amount must be at least 0,01 ₽" : tooLarge };
  }
  return { ok: true, kopecks };
}

const tooLarge = "The amount must be at most 10 000 000,00 ₽";

/** 123456 → "1 234,56 ₽" (no-break spaces, so an amount never wraps across lines). */
export function formatRoubles(kopecks: number): string {
  if (!Number.isSafeInteger(kopecks)) throw new RangeError(`not an integer amount: ${kopecks}`);
  const sign = kopecks < 0 ? "−" : "";
  const digits = String(Math.abs(kopecks)).padStart(3, "0");
  const whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  return `${sign}${whole},${digits.slice(-2)}\u00a0₽`;
}
