"use client";
import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { Suspense, useReducer, useRef, useState, type FormEvent } from "react";
import { orderFilterParams, readOrderFilters, type OrderFilters } from "../../../src/client/admin-filters.ts";
import { api, describeError, fieldMessage } from "../../../src/client/api.ts";
import { Field } from "../../../src/client/field.tsx";
import { useOrderFeed, type OrderEvent } from "../../../src/client/live.ts";
import { OrderItem } from "../../../src/client/order-item.tsx";
import { SelectField } from "../../../src/client/select-field.tsx";
import { statusLabel } from "../../../src/client/status-badge.tsx";
import { Waiting } from "../../../src/client/waiting.tsx";
import { pathWith, useUrlState, withParams } from "../../../src/client/url-state.ts";
import { useRequireUser } from "../../../src/client/session.ts";

type FormValues = Omit<OrderFilters, "userId">;

/** Settles remembered to lay over rows read before them (see AdminOrders). */
const MAX_SETTLES = 10_000;

const statusOptions = [
  { value: "", label: "Any status" },
  { value: "NEW", label: statusLabel("NEW") },
  { value: "FINISHED", label: statusLabel("FINISHED") },
  { value: "CANCELLED", label: statusLabel("CANCELLED") },
] as const;

/** A date typed in the form is a day in the admin's time zone; `to` is exclusive, so it is the next midnight. */
const dayStart = (day: string) => new Date(`${day}T00:00:00`).toISOString();
function nextDayStart(day: string) {
  const date = new Date(`${day}T00:00:00`);
  date.setDate(date.getDate() + 1);
  return date.toISOString();
}

function query(filters: OrderFilters) {
  return {
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.userId ? { userId: filters.userId } : {}),
    ...(filters.email.trim() ? { email: filters.email.trim() } : {}),
    ...(filters.from ? { from: dayStart(filters.from) } : {}),
    ...(filters.to ? { to: nextDayStart(filters.to) } : {}),
  };
}

export default function AdminOrdersPage() {
  return (
    <Suspense>
      <AdminOrders />
    </Suspense>
  );
}

/**
 * The filters are the address's (`?status&email&from&to`, and `userId` when linked from a user's page):
 * Back and a reload show the same list. The form edits a copy, applied on "Show orders".
 */
function AdminOrders() {
  const { user, session } = useRequireUser({ admin: true });
  const queryClient = useQueryClient();
  const url = useUrlState();
  const filters = readOrderFilters(url.params);
  const { userId } = filters;
  const [form, setForm] = useState<FormValues>(filters);
  // The address changed under the form (Back, a link): the form shows what is applied now.
  const applied = JSON.stringify(filters);
  const [shown, setShown] = useState(applied);
  if (shown !== applied) {
    setShown(applied);
    setForm(filters);
  }
  const [formError, setFormError] = useState<string>();
  const key = ["admin-orders", filters] as const;
  const list = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam }) =>
      api.admin.listOrders.query({
        ...query(filters),
        limit: 20,
        ...(pageParam ? { cursor: pageParam } : {}),
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: !!user,
    retry: false,
  });

  // The rows on screen follow their orders live; new orders wait for the next search or "Refresh".
  // Settles are laid over the rows as they render rather than written into the cached pages: a list
  // read again (at every start of the feed, on "Show orders") may have been read before a settle the
  // feed has already handed over, and would put the row back to NEW for good. Statuses only move
  // NEW → FINISHED/CANCELLED, so a settle seen always wins over a NEW row.
  const settles = useRef(new Map<string, OrderEvent>());
  const [, settled] = useReducer((n: number) => n + 1, 0);
  useOrderFeed(
    "admin.orderFeed",
    !!user,
    (event: OrderEvent) => {
      if (event.status === "NEW") return;
      settles.current.set(event.orderId, event);
      // The latest settles are enough: a list read again is at most seconds older than the feed.
      if (settles.current.size > MAX_SETTLES) settles.current.delete(settles.current.keys().next().value!);
      settled();
    },
    { onStart: () => void queryClient.invalidateQueries({ queryKey: ["admin-orders"] }) },
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const unreadable = [form.from, form.to].some((day) => day && Number.isNaN(Date.parse(`${day}T00:00:00`)));
    if (unreadable) {
      setFormError("Enter dates as a day, month and year");
      return;
    }
    if (form.from && form.to && form.from > form.to) {
      setFormError("The “from” date must not be after the “to” date");
      return;
    }
    setFormError(undefined);
    url.update(orderFilterParams(form));
    // The same filters again mean "look again": new orders only join the list when it is read.
    const next = readOrderFilters(withParams(url.params, orderFilterParams(form)));
    void queryClient.invalidateQueries({ queryKey: ["admin-orders", next], exact: true });
  };

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const error = list.isError ? describeError(list.error) : undefined;
  const orders = [
    ...new Map((list.data?.pages.flatMap((page) => page.orders) ?? []).map((o) => [o.id, o])).values(),
  ].map((order) => {
    const settle = settles.current.get(order.id);
    return settle && order.status === "NEW"
      ? { ...order, status: settle.status, cancelReason: settle.reason, updatedAt: settle.occurredAt }
      : order;
  });
  return (
    <main>
      <h1>Orders</h1>
      <form className="filters card" onSubmit={submit} noValidate aria-label="Filter orders">
        <SelectField
          id="filter-status"
          label="Status"
          options={statusOptions}
          value={form.status}
          onChange={(e) => setForm({ ...form, status: e.target.value as FormValues["status"] })}
        />
        <Field
          id="filter-email"
          label="Shopper email (exact)"
          type="search"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          error={fieldMessage("Email", error?.fields.email)}
        />
        <Field
          id="filter-from"
          label="Placed from"
          type="date"
          value={form.from}
          onChange={(e) => setForm({ ...form, from: e.target.value })}
          error={formError ?? fieldMessage("From", error?.fields.from)}
        />
        <Field
          id="filter-to"
          label="Placed to"
          type="date"
          value={form.to}
          onChange={(e) => setForm({ ...form, to: e.target.value })}
          error={fieldMessage("To", error?.fields.to)}
        />
        <div className="filter-actions">
          <button type="submit">Show orders</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              const cleared = { status: "", email: "", from: "", to: "" } as const;
              setForm(cleared);
              setFormError(undefined);
              url.update(orderFilterParams(cleared));
              void queryClient.invalidateQueries({ queryKey: ["admin-orders"] });
            }}
          >
            Clear and refresh
          </button>
        </div>
      </form>
      {userId && (
        <p>
          Only the orders of <Link href={`/admin/users/${userId}`}>this user</Link>.{" "}
          <Link href={pathWith("/admin/orders", withParams(url.params, { userId: null }))}>
            Show everyone&apos;s orders
          </Link>
        </p>
      )}
      {list.isPending ? (
        <p role="status">Loading…</p>
      ) : error ? (
        <p role="alert">Could not load the orders: {error.message}</p>
      ) : orders.length === 0 ? (
        <p>No orders match these filters.</p>
      ) : (
        <ul className="orders" aria-label="Orders">
          {orders.map((order) => (
            <OrderItem key={order.id} order={order} shopper={order} />
          ))}
        </ul>
      )}
      {list.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void list.fetchNextPage()}
          disabled={list.isFetchingNextPage}
        >
          {list.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
