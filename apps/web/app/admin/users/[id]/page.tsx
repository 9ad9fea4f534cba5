"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { api, describeError } from "../../../../src/client/api.ts";
import { useBalanceChanges, useOrderFeed, useRereadOnChange } from "../../../../src/client/live.ts";
import { formatRoubles } from "../../../../src/client/money.ts";
import { OrderItem } from "../../../../src/client/order-item.tsx";
import { useRequireUser } from "../../../../src/client/session.ts";
import { StatementEntries } from "../../../../src/client/statement.tsx";
import { TopUpForm } from "../../../../src/client/top-up-form.tsx";
import { Waiting } from "../../../../src/client/waiting.tsx";
import { When } from "../../../../src/client/when.tsx";

export default function AdminUserPage() {
  const { user, session } = useRequireUser({ admin: true });
  // Lower-cased as the API writes ids: the live events are matched to this user by their id.
  const id = useParams<{ id: string }>().id.toLowerCase();
  const detailsKey = ["admin-user", id];
  const details = useQuery({
    queryKey: detailsKey,
    queryFn: () => api.admin.getUser.query({ userId: id }),
    enabled: !!user,
    retry: false,
  });

  // The page follows the user: each change of one of their orders (placed, paid, cancelled, and with it
  // the balance and statement) reads the page again.
  const reread = useRereadOnChange(detailsKey, details);
  useOrderFeed(
    "admin.orderFeed",
    !!user && details.isSuccess,
    (event) => {
      if (event.userId === id) reread();
    },
    // Read without a feed position: whatever changed before the feed started is read again.
    { onStart: reread, onReset: reread },
  );
  // And each top-up of the account made elsewhere (by the user, or by another admin).
  useBalanceChanges(!!user && details.isSuccess, reread, id);

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const code = details.isError ? describeError(details.error).code : undefined;
  if (details.isPending) {
    return (
      <main aria-busy="true">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (code === "NOT_FOUND" || code === "BAD_REQUEST") {
    return (
      <main>
        <h1>User not found</h1>
        <p>
          No user has this id. Find users by email on <Link href="/admin/top-up">Top up accounts</Link>.
        </p>
      </main>
    );
  }
  if (details.isError) {
    return (
      <main>
        <h1>User</h1>
        <p role="alert">Could not load the user: {describeError(details.error).message}</p>
        <button type="button" onClick={() => void details.refetch()}>
          Try again
        </button>
      </main>
    );
  }

  const { user: shown, account, orders, ledger } = details.data;
  const at = shown.email.lastIndexOf("@");
  const [local, domain] = [shown.email.slice(0, at), shown.email.slice(at + 1)];
  return (
    <main>
      <h1 className="order-title">
        {/* A narrow screen breaks a long address after its "@" before it breaks inside a word. */}
        {local}@<wbr />
        {domain}
      </h1>
      <p className="order-meta">
        {shown.role === "ADMIN" ? "Admin" : "Shopper"} since <When at={shown.createdAt} /> · id{" "}
        <span className="mono">{shown.id}</span>
      </p>
      <section className="card" aria-labelledby="user-account-title">
        <h2 id="user-account-title">Account</h2>
        {account === null ? (
          <p>No account yet: the user must open one before it can be topped up.</p>
        ) : (
          <>
            <p className="balance">
              Balance: <strong data-testid="user-balance">{formatRoubles(account.balance)}</strong>
            </p>
            {/* One form per user: a key kept for a retry belongs to this user's top-up only. */}
            <TopUpForm
              key={shown.id}
              id="user-topup-amount"
              topUp={(amount, idempotencyKey) =>
                api.admin.topUp.mutate({ userId: shown.id, amount, idempotencyKey })
              }
              onTopUp={() => void details.refetch()}
            />
          </>
        )}
      </section>
      <section className="card" aria-labelledby="user-statement-title">
        <h2 id="user-statement-title">Statement</h2>
        <p className="order-meta">Newest first; at most the latest 20.</p>
        {ledger.length === 0 ? <p>No entries yet.</p> : <StatementEntries entries={ledger} />}
      </section>
      <section className="card" aria-labelledby="user-orders-title">
        <h2 id="user-orders-title">Orders</h2>
        <p className="order-meta">
          Newest first; at most the latest 20.{" "}
          <Link href={`/admin/orders?userId=${shown.id}`}>All their orders</Link> ·{" "}
          <Link href={`/admin/payments?userId=${shown.id}`}>their payments</Link>
        </p>
        {orders.length === 0 ? (
          <p>No orders yet.</p>
        ) : (
          <ul className="orders" aria-label="Orders">
            {orders.map((order) => (
              <OrderItem key={order.id} order={order} />
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}
