import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { StatusBadge, type CancelReason, type OrderStatus } from "./status-badge.tsx";

const badge = (status: OrderStatus, reason: CancelReason) =>
  renderToStaticMarkup(createElement(StatusBadge, { status, reason }));
const text = (html: string) => html.replace(/<[^>]+>/g, "");

describe("StatusBadge", () => {
  it("says the status in the shop's words, with the enum kept in data-status", () => {
    expect(text(badge("NEW", null))).toBe("Awaiting payment");
    expect(text(badge("FINISHED", null))).toBe("Paid");
    expect(badge("NEW", null)).toContain('data-status="NEW"');
    expect(badge("FINISHED", null)).toContain('data-status="FINISHED"');
  });

  it("says why a cancelled order was cancelled", () => {
    expect(text(badge("CANCELLED", "INSUFFICIENT_FUNDS"))).toBe("Cancelled · insufficient funds");
    expect(text(badge("CANCELLED", "NO_ACCOUNT"))).toBe("Cancelled · no account");
    expect(text(badge("CANCELLED", null))).toBe("Cancelled");
    expect(badge("CANCELLED", "NO_ACCOUNT")).toContain('data-status="CANCELLED"');
  });
});
