// The shopper's cached order list and how what the page learns (its own new order, the live feed)
// goes into it. Pure, so that the rules can be tested without a page.
import type { InfiniteData } from "@tanstack/react-query";
import type { OrderEvent } from "../live.ts";
import type { CancelReason, OrderStatus } from "../status-badge.tsx";

export type Order = {
  id: string;
  amount: number;
  description: string;
  status: OrderStatus;
  cancelReason: CancelReason;
  createdAt: string;
};
export type Page = { orders: Order[]; nextCursor: string | null; position: number };
export type OrderPages = InfiniteData<Page>;

export function findOrder(data: OrderPages | undefined, id: string) {
  for (const page of data?.pages ?? []) for (const order of page.orders) if (order.id === id) return order;
  return undefined;
}

/** Puts an order's latest state into the cached list (first page when it is not there yet). */
export function upsert(data: OrderPages | undefined, order: Order): OrderPages | undefined {
  if (!data) return data;
  const known = findOrder(data, order.id) !== undefined;
  const pages = known
    ? data.pages.map((page) => ({
        ...page,
        orders: page.orders.map((o) => (o.id === order.id ? { ...o, ...order } : o)),
      }))
    : data.pages.map((page, index) => (index === 0 ? { ...page, orders: [order, ...page.orders] } : page));
  return { ...data, pages };
}

/** A live change of one of the shopper's orders, applied to the cached list. */
export function applyOrderEvent(data: OrderPages | undefined, event: OrderEvent): OrderPages | undefined {
  const before = findOrder(data, event.orderId);
  if (!before) {
    // Only a NEW event is a new order (placed since the list was read): its time is when it was placed.
    // A settle of an order the list does not hold is one older than the pages loaded so far; put on top,
    // it would stand among the newest with its settle time for its placing time.
    if (event.status !== "NEW") return data;
    return upsert(data, {
      id: event.orderId,
      amount: event.amount,
      description: event.description,
      status: event.status,
      cancelReason: event.reason,
      createdAt: event.occurredAt,
    });
  }
  // Statuses only move NEW → FINISHED/CANCELLED: a late NEW never undoes a settled order.
  if (event.status === "NEW") return data;
  return upsert(data, { ...before, status: event.status, cancelReason: event.reason });
}

/**
 * The cached list with the page's live changes laid over it, in the order they came. The cache holds
 * what the server last said, and a list read again (the shop shown again, a reset) may have been read
 * before changes the feed has already handed over and will not send again; laid over every time the
 * list renders, they survive any such read. Applying a change twice changes nothing.
 */
export function withLiveChanges(data: OrderPages | undefined, changes: readonly OrderEvent[]) {
  return changes.reduce(applyOrderEvent, data);
}
