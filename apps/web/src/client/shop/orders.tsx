"use client";
import { useInfiniteQuery, useMutation, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { DESCRIPTION_MAX, descriptionSchema } from "@gozon/api/inputs";
import { api, describeError } from "../api.ts";
import { Field } from "../field.tsx";
import { offlineNotice } from "../offline-notice.ts";
import { OrderItem } from "../order-item.tsx";
import { useOrderFeed, type OrderEvent } from "../live.ts";
import { parseRoubles } from "../money.ts";
import { toastSettled } from "../settle-toast.ts";
import type { CancelReason, OrderStatus } from "../status-badge.tsx";
import { accountKey } from "./account-panel.tsx";
import { ledgerKey } from "./statement.tsx";

type Order = {
  id: string;
  amount: number;
  description: string;
  status: OrderStatus;
  cancelReason: CancelReason;
  createdAt: string;
};
type Page = { orders: Order[]; nextCursor: string | null; position: number };

const ordersKey = ["orders"] as const;

/** Puts an order's latest state into the cached list (first page when it is not there yet). */
function upsert(data: InfiniteData<Page> | undefined, order: Order): InfiniteData<Page> | undefined {
  if (!data) return data;
  const known = data.pages.some((page) => page.orders.some((o) => o.id === order.id));
  const pages = known
    ? data.pages.map((page) => ({
        ...page,
        orders: page.orders.map((o) => (o.id === order.id ? { ...o, ...order } : o)),
      }))
    : data.pages.map((page, index) => (index === 0 ? { ...page, orders: [order, ...page.orders] } : page));
  return { ...data, pages };
}

function findOrder(data: InfiniteData<Page> | undefined, id: string) {
  for (const page of data?.pages ?? []) for (const order of page.orders) if (order.id === id) return order;
  return undefined;
}

export function Orders() {
  const queryClient = useQueryClient();
  const list = useInfiniteQuery({
    queryKey: ordersKey,
    queryFn: ({ pageParam }) =>
      api.orders.list.query({ limit: 20, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });

  // Subscribed once the first page is in, from the position it was read at: no change falls between.
  const firstPage = list.data?.pages[0];
  useOrderFeed(
    "orders.onStatusChange",
    firstPage !== undefined,
    (event: OrderEvent) => {
      const data = queryClient.getQueryData<InfiniteData<Page>>(ordersKey);
      const before = findOrder(data, event.orderId);
      // Statuses only move NEW → FINISHED/CANCELLED: a late NEW never undoes a settled order.
      if (event.status === "NEW" && before && before.status !== "NEW") return;
      queryClient.setQueryData<InfiniteData<Page>>(ordersKey, (old) =>
        upsert(old, {
          id: event.orderId,
          amount: event.amount,
          description: event.description,
          status: event.status,
          cancelReason: event.reason,
          createdAt: before?.createdAt ?? event.occurredAt,
        }),
      );
      // A toast for each settle since the page loaded: the feed hands each change over once, in order,
      // however often the page reconnects (a list refetched meanwhile may already show the new state).
      toastSettled(event);
      if (event.status === "FINISHED") {
        void queryClient.invalidateQueries({ queryKey: accountKey });
        void queryClient.invalidateQueries({ queryKey: ledgerKey });
      }
    },
    {
      from: firstPage?.position,
      onReset: () => void queryClient.invalidateQueries({ queryKey: ordersKey }),
    },
  );

  // An order put on top by a live event may turn up again in a later page: show it once.
  const orders = [
    ...new Map((list.data?.pages.flatMap((page) => page.orders) ?? []).map((o) => [o.id, o])).values(),
  ];
  return (
    <>
      <NewOrderForm
        onCreated={(order) =>
          // The settle event may have arrived before this response: never overwrite a newer state.
          queryClient.setQueryData<InfiniteData<Page>>(ordersKey, (old) =>
            findOrder(old, order.id) ? old : upsert(old, order),
          )
        }
      />
      <section aria-labelledby="orders-title" className="card">
        <h2 id="orders-title">Your orders</h2>
        {list.isPending ? (
          <p>Loading…</p>
        ) : list.isError ? (
          <p role="alert">{describeError(list.error).message}</p>
        ) : orders.length === 0 ? (
          <p>No orders yet: place one above and watch it get paid here.</p>
        ) : (
          <ul className="orders" aria-label="Orders">
            {orders.map((order) => (
              <OrderItem key={order.id} order={order} href={`/orders/${order.id}`} />
            ))}
          </ul>
        )}
        {list.hasNextPage && (
          <button type="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
      </section>
    </>
  );
}

function NewOrderForm({ onCreated }: { onCreated: (order: Order) => void }) {
  const [amount, setAmount] = useState("");
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<{ amount?: string; description?: string; form?: string }>({});
  const create = useMutation({
    mutationFn: (input: { amount: number; description: string }) =>
      // A fresh key per submit: a retried or double-sent request makes one order.
      api.orders.create.mutate({ ...input, idempotencyKey: crypto.randomUUID() }),
    onSuccess: ({ order }) => {
      onCreated(order);
      setAmount("");
      setDescription("");
    },
    onError: (caught) => {
      const info = describeError(caught);
      setErrors({
        amount: info.fields.amount,
        description: info.fields.description,
        form: Object.keys(info.fields).length ? undefined : info.message,
      });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseRoubles(amount);
    // The server's own description rule (trim, 1–500 characters, no NUL or broken Unicode).
    const text = descriptionSchema.safeParse(description);
    const next = {
      amount: parsed.ok ? undefined : parsed.error,
      description: text.success ? undefined : `Description ${text.error.issues[0]?.message ?? "is invalid"}`,
    };
    setErrors(next);
    if (parsed.ok && text.success) create.mutate({ amount: parsed.kopecks, description: text.data });
  };

  return (
    <section aria-labelledby="new-order-title" className="card">
      <h2 id="new-order-title">New order</h2>
      <form onSubmit={submit} noValidate>
        <Field
          id="order-amount"
          label="Order amount (₽)"
          inputMode="decimal"
          placeholder="250,00"
          required
          value={amount}
          onChange={(e) => {
            setAmount(e.target.value);
            setErrors(({ amount: _said, ...rest }) => rest);
          }}
          error={errors.amount}
        />
        <Field
          id="order-description"
          label="Description"
          required
          value={description}
          onChange={(e) => {
            setDescription(e.target.value);
            setErrors(({ description: _said, ...rest }) => rest);
          }}
          error={errors.description}
          maxLength={DESCRIPTION_MAX * 2}
        />
        {errors.form && (
          <p className="form-error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? "Placing…" : "Place order"}
        </button>
        {/* Rendered empty from the start: a live region announces what later appears in it. */}
        <p role="status" className={create.isPaused ? "notice" : undefined}>
          {create.isPaused ? offlineNotice("the order will be placed") : null}
        </p>
      </form>
    </section>
  );
}
