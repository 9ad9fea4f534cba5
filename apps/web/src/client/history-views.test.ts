import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { StatementEntries, type LedgerEntry } from "./statement.tsx";
import { Timeline } from "./timeline.tsx";

// Tags become spaces; only ASCII whitespace is collapsed (amounts keep their no-break spaces).
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/[ \t\n]+/g, " ")
    .trim();

describe("Timeline", () => {
  it("says what is awaited while the order is NEW", () => {
    const html = renderToStaticMarkup(
      createElement(Timeline, { history: [{ status: "NEW", reason: null, at: "2026-12-01T10:00:00Z" }] }),
    );
    expect(text(html)).toMatch(/^Placed .+ Awaiting payment… this page updates by itself$/);
  });

  it("ends with the cancellation and its reason, and nothing awaited", () => {
    const html = renderToStaticMarkup(
      createElement(Timeline, {
        history: [
          { status: "NEW", reason: null, at: "2026-12-01T10:00:00Z" },
          { status: "CANCELLED", reason: "INSUFFICIENT_FUNDS", at: "2026-12-01T10:00:01Z" },
        ],
      }),
    );
    expect(text(html)).toMatch(/^Placed .+ Cancelled: insufficient funds .+$/);
    expect(html).not.toContain("Awaiting payment");
    expect(html).toContain('dateTime="2026-12-01T10:00:01Z"');
  });
});

describe("StatementEntries", () => {
  const entries: LedgerEntry[] = [
    {
      id: "2",
      kind: "ORDER_DEBIT",
      amount: -25_050,
      balanceAfter: 74_950,
      orderId: "0a00a78e-6015-4c58-8def-efb9607b6ca6",
      createdAt: "2026-12-01T10:00:01Z",
    },
    {
      id: "1",
      kind: "TOP_UP",
      amount: 100_000,
      balanceAfter: 100_000,
      orderId: null,
      createdAt: "2026-12-01T10:00:00Z",
    },
  ];

  it("signs amounts exactly and links a debit to its order only when told how", () => {
    const linked = renderToStaticMarkup(
      createElement(StatementEntries, { entries, orderHref: (id: string) => `/orders/${id}` }),
    );
    expect(text(linked)).toContain("−250,50\u00a0₽ balance 749,50\u00a0₽");
    expect(text(linked)).toContain("+1\u00a0000,00\u00a0₽ balance 1\u00a0000,00\u00a0₽");
    expect(linked).toContain('href="/orders/0a00a78e-6015-4c58-8def-efb9607b6ca6"');

    const plain = renderToStaticMarkup(createElement(StatementEntries, { entries }));
    expect(plain).not.toContain("href=");
    expect(text(plain)).toContain("Payment for order 0a00a78e");
  });
});
