"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { api, describeError } from "../../../src/client/api.ts";
import { useOrderFeed } from "../../../src/client/live.ts";
import { formatRoubles } from "../../../src/client/money.ts";
import { toastSettled } from "../../../src/client/settle-toast.ts";
import { StatusBadge } from "../../../src/client/status-badge.tsx";
import { Timeline } from "../../../src/client/timeline.tsx";
import { Waiting } from "../../../src/client/waiting.tsx";
import { When } from "../../../src/client/when.tsx";
import { useRequireUser } from "../../../src/client/session.ts";

export default function OrderPage() {
  const { user, session } = useRequireUser();
  // Lower-cased as the API writes ids: the live events are matched to this order by their id.
  const id = useParams<{ id: string }>().id.toLowerCase();
  const order = useQuery({
    queryKey: ["order", id],
    queryFn: () => api.orders.byId.query({ id }),
    enabled: !!user,
    retry: false,
  });
  // The history is read from the server on each change of this order, so it is always the log's own.
  // Every settle of the shopper's orders toasts here as on the shop: a toast in every open tab.
  useOrderFeed(
    "orders.onStatusChange",
    !!user,
    (event) => {
      if (event.orderId === id) void order.refetch();
      toastSettled(event);
    },
    { onStart: () => void order.refetch() },
  );

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const code = order.isError ? describeError(order.error).code : undefined;
  return (
    <main>
      <p>
        <Link href="/">← Back to the shop</Link>
      </p>
      {order.isPending ? (
        <p role="status">Loading…</p>
      ) : code === "NOT_FOUND" || code === "BAD_REQUEST" ? (
        <>
          <h1>Order not found</h1>
          <p>There is no order of yours with this address. Your orders are listed in the shop.</p>
        </>
      ) : order.isError ? (
        <>
          <h1>Order</h1>
          <p role="alert">Could not load the order: {describeError(order.error).message}</p>
          <button type="button" onClick={() => void order.refetch()}>
            Try again
          </button>
        </>
      ) : (
        <>
          <h1 className="order-title">{order.data.order.description}</h1>
          <section className="card" aria-labelledby="order-summary-title">
            <h2 id="order-summary-title" className="visually-hidden">
              Summary
            </h2>
            <dl className="facts">
              <div>
                <dt>Amount</dt>
                <dd data-testid="order-amount">{formatRoubles(order.data.order.amount)}</dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusBadge status={order.data.order.status} reason={order.data.order.cancelReason} />
                </dd>
              </div>
              <div>
                <dt>Placed</dt>
                <dd>
                  <When at={order.data.order.createdAt} />
                </dd>
              </div>
              <div>
                <dt>Order id</dt>
                <dd className="mono">{order.data.order.id}</dd>
              </div>
            </dl>
          </section>
          <section className="card" aria-labelledby="history-title">
            <h2 id="history-title">History</h2>
            <Timeline history={order.data.history} />
          </section>
        </>
      )}
    </main>
  );
}
