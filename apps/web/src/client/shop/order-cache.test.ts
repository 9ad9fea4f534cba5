import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../live.ts";
import { applyOrderEvent, withLiveChanges, type Order, type OrderPages } from "./order-cache.ts";

const order = (id: string, createdAt: string, status: Order["status"] = "NEW"): Order => ({
  id,
  amount: 100_00,
  description: `Order ${id}`,
  status,
  cancelReason: null,
  createdAt,
});

const loaded = (...pages: Order[][]): OrderPages => ({
  pages: pages.map((orders, index) => ({ orders, nextCursor: `cursor-${index}`, position: 7 })),
  pageParams: pages.map((_, index) => (index === 0 ? null : `cursor-${index - 1}`)),
});

const event = (orderId: string, status: OrderEvent["status"], occurredAt: string): OrderEvent => ({
  position: 8,
  orderId,
  userId: "shopper",
  status,
  reason: status === "CANCELLED" ? "INSUFFICIENT_FUNDS" : null,
  amount: 100_00,
  description: `Order ${orderId}`,
  occurredAt,
});

const ids = (data: OrderPages | undefined) => data?.pages.map((page) => page.orders.map((o) => o.id));

describe("applyOrderEvent", () => {
  const list = loaded([order("b", "2026-12-01T10:00:00Z")], [order("a", "2026-11-01T10:00:00Z")]);

  it("leaves the list alone for a settle of an order it does not hold (an older one, not loaded)", () => {
    const settled = applyOrderEvent(list, event("old", "FINISHED", "2026-12-04T12:00:00Z"));
    expect(settled).toEqual(list);
    expect(applyOrderEvent(list, event("old", "CANCELLED", "2026-12-04T12:00:00Z"))).toEqual(list);
  });

  it("puts a new order on top, placed when its NEW event says", () => {
    const next = applyOrderEvent(list, event("c", "NEW", "2026-12-04T12:00:00Z"));
    expect(ids(next)).toEqual([["c", "b"], ["a"]]);
    expect(next?.pages[0]?.orders[0]).toMatchObject({ status: "NEW", createdAt: "2026-12-04T12:00:00Z" });
  });

  it("settles an order on any loaded page where it stands, keeping when it was placed", () => {
    const next = applyOrderEvent(list, event("a", "CANCELLED", "2026-12-04T12:00:00Z"));
    expect(ids(next)).toEqual([["b"], ["a"]]);
    expect(next?.pages[1]?.orders[0]).toMatchObject({
      status: "CANCELLED",
      cancelReason: "INSUFFICIENT_FUNDS",
      createdAt: "2026-11-01T10:00:00Z",
    });
  });

  it("never lets a late NEW undo a settled order", () => {
    const settled = applyOrderEvent(list, event("b", "FINISHED", "2026-12-04T12:00:00Z"));
    const late = applyOrderEvent(settled, event("b", "NEW", "2026-12-01T10:00:00Z"));
    expect(late?.pages[0]?.orders[0]?.status).toBe("FINISHED");
  });
});

describe("withLiveChanges", () => {
  const changes = [
    event("c", "NEW", "2026-12-04T12:00:00Z"),
    event("b", "FINISHED", "2026-12-04T12:00:01Z"),
    event("c", "CANCELLED", "2026-12-04T12:00:02Z"),
  ];
  const status = (data: OrderPages | undefined) =>
    Object.fromEntries(data?.pages.flatMap((page) => page.orders.map((o) => [o.id, o.status])) ?? []);

  it("keeps changes the feed handed over after the list was read: a read from before them undoes none", () => {
    const readBefore = loaded([order("b", "2026-12-01T10:00:00Z")], [order("a", "2026-11-01T10:00:00Z")]);
    const shown = withLiveChanges(readBefore, changes);
    expect(ids(shown)).toEqual([["c", "b"], ["a"]]);
    expect(status(shown)).toEqual({ c: "CANCELLED", b: "FINISHED", a: "NEW" });
  });

  it("changes nothing in a list read after them", () => {
    const readAfter = loaded(
      [
        { ...order("c", "2026-12-04T12:00:00Z", "CANCELLED"), cancelReason: "INSUFFICIENT_FUNDS" },
        order("b", "2026-12-01T10:00:00Z", "FINISHED"),
      ],
      [order("a", "2026-11-01T10:00:00Z")],
    );
    expect(withLiveChanges(readAfter, changes)).toEqual(readAfter);
  });
});
