import { describe, expect, it } from "vitest";
import { TOAST_DESCRIPTION_MAX, toastDescription } from "./settle-toast.ts";

describe("toastDescription", () => {
  it("keeps a description up to the limit whole", () => {
    expect(toastDescription("New Year tree")).toBe("New Year tree");
    const exact = "x".repeat(TOAST_DESCRIPTION_MAX);
    expect(toastDescription(exact)).toBe(exact);
  });

  it("cuts a longer one to the limit, ending in an ellipsis", () => {
    const cut = toastDescription("y".repeat(500));
    expect(Array.from(cut)).toHaveLength(TOAST_DESCRIPTION_MAX);
    expect(cut).toBe(`${"y".repeat(TOAST_DESCRIPTION_MAX - 1)}…`);
  });

  it("never splits a character made of two UTF-16 units", () => {
    const cut = toastDescription("🎄".repeat(TOAST_DESCRIPTION_MAX + 1));
    expect(cut).toBe(`${"🎄".repeat(TOAST_DESCRIPTION_MAX - 1)}…`);
  });
});
