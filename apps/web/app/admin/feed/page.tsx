"use client";
import Link from "next/link";
import { useState } from "react";
import { useOrderFeed, type OrderEvent } from "../../../src/client/live.ts";
import { OrderItem } from "../../../src/client/order-item.tsx";
import { Waiting } from "../../../src/client/waiting.tsx";
import { statusLabel } from "../../../src/client/status-badge.tsx";
import { ADMIN_FEED_RECENT } from "@gozon/api/live/feed.schema";
import { useRequireUser } from "../../../src/client/session.ts";

const statuses = ["NEW", "FINISHED", "CANCELLED"] as const;
const changeLabel = { NEW: "placed", FINISHED: "paid", CANCELLED: "cancelled" } as const;
/** Rows kept on the page: a tab left open all day stays small. Older orders are on the orders page. */
const MAX_ROWS = 500;

export default function AdminFeedPage() {
  const { user, session } = useRequireUser({ admin: true });
  // One row per order, updated in place; newest first. The feed opens with the latest orders, then goes live.
  const [orders, setOrders] = useState<OrderEvent[]>([]);
  useOrderFeed(
    "admin.orderFeed",
    !!user,
    (event) =>
      setOrders((current) => {
        // The feed is in position order: a later change of a shown order replaces it, on top.
        const rest = current.filter((o) => o.orderId !== event.orderId);
        return [event, ...rest].slice(0, MAX_ROWS);
      }),
    // Too far behind to resume: start the rows afresh from what comes next.
    { onReset: () => setOrders([]) },
  );

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  return (
    <main>
      <h1>Live order feed</h1>
      <p className="hint">
        Opens with the orders of the latest {ADMIN_FEED_RECENT} changes, then shows every order as it is
        placed and settled, newest first (up to {MAX_ROWS} rows). Every order, with filters:{" "}
        <Link href="/admin/orders">all orders</Link>.
      </p>
      <h2 className="visually-hidden">Rows by status</h2>
      <dl className="counts" aria-label="Rows on this page by status">
        {statuses.map((status) => (
          <div key={status}>
            <dt>{statusLabel(status)}</dt>
            <dd data-testid={`count-${status}`}>{orders.filter((o) => o.status === status).length}</dd>
          </div>
        ))}
      </dl>
      {orders.length === 0 ? (
        <p>No orders yet… new orders and their payments appear here as they happen.</p>
      ) : (
        <ul className="orders" aria-label="Orders">
          {orders.map((event) => (
            <OrderItem
              key={event.orderId}
              order={{
                id: event.orderId,
                description: event.description,
                amount: event.amount,
                status: event.status,
                cancelReason: event.reason,
                createdAt: event.occurredAt,
              }}
              shopper={event}
              // A row shows the order's latest change: its time, and what it was.
              at={{ label: changeLabel[event.status], time: event.occurredAt }}
            />
          ))}
        </ul>
      )}
    </main>
  );
}
