"use client";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { DESCRIPTION_MAX, descriptionSchema } from "@gozon/api/inputs";
import { api, describeError } from "../api.ts";
import { Field } from "../field.tsx";
import { useSubmitKeys } from "../idempotency-key.ts";
import { offlineNotice } from "../offline-notice.ts";
import { OrderItem } from "../order-item.tsx";
import { useOrderFeed, type OrderEvent } from "../live.ts";
import { parseRoubles } from "../money.ts";
import { toastSettled } from "../settle-toast.ts";
import { accountKey } from "./account-panel.tsx";
import { findOrder, upsert, withLiveChanges, type Order, type OrderPages } from "./order-cache.ts";
import { ledgerKey } from "./statement.tsx";

const ordersKey = ["orders"] as const;
/** Live changes kept to lay over the list: far more than change between two reads of it. */
const MAX_LIVE_CHANGES = 1_000;

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
  // The changes are kept (the latest MAX_LIVE_CHANGES) and laid over the list as it renders.
  const firstPage = list.data?.pages[0];
  const liveChanges = useRef<OrderEvent[]>([]);
  const [, changed] = useReducer((n: number) => n + 1, 0);
  useOrderFeed(
    "orders.onStatusChange",
    firstPage !== undefined,
    (event: OrderEvent) => {
      liveChanges.current.push(event);
      if (liveChanges.current.length > MAX_LIVE_CHANGES) liveChanges.current.shift();
      changed();
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

  // "Try again" leaves with the failure it answers: the keyboard goes on from the list's heading.
  const heading = useRef<HTMLHeadingElement>(null);
  const retried = useRef(false);
  const loaded = list.data !== undefined;
  useEffect(() => {
    if (!loaded || !retried.current) return;
    retried.current = false;
    if (document.activeElement === document.body) heading.current?.focus();
  }, [loaded]);

  // An order put on top by a live event may turn up again in a later page: show it once.
  const shown = withLiveChanges(list.data, liveChanges.current);
  const orders = [
    ...new Map((shown?.pages.flatMap((page) => page.orders) ?? []).map((o) => [o.id, o])).values(),
  ];
  return (
    <>
      <NewOrderForm
        onCreated={(order) =>
          // The settle event may have arrived before this response: never overwrite a newer state.
          queryClient.setQueryData<OrderPages>(ordersKey, (old) =>
            findOrder(old, order.id) ? old : upsert(old, order),
          )
        }
      />
      <section aria-labelledby="orders-title" className="card">
        <h2 id="orders-title" ref={heading} tabIndex={-1}>
          Your orders
        </h2>
        {list.data === undefined && (list.isError || list.errorUpdateCount > 0) ? (
          // Without its first page the list has nothing to show and the live feed nothing to start
          // from: only reading it again helps. While it does, the button stays where the focus is.
          <>
            {list.isError ? (
              <p key="failed" role="alert">
                Could not load your orders: {describeError(list.error).message}
              </p>
            ) : (
              <p key="retrying" role="status">
                Trying again…
              </p>
            )}
            <button
              type="button"
              onClick={() => {
                retried.current = true;
                void list.refetch({ cancelRefetch: false });
              }}
            >
              Try again
            </button>
          </>
        ) : list.data === undefined ? (
          <p>Loading…</p>
        ) : orders.length === 0 ? (
          <p>No orders yet: place one above and watch it get paid here.</p>
        ) : (
          <ul className="orders" aria-label="Orders">
            {orders.map((order) => (
              <OrderItem key={order.id} order={order} href={`/orders/${order.id}`} />
            ))}
          </ul>
        )}
        {list.isFetchNextPageError && (
          <p role="alert">Could not load more orders: {describeError(list.error).message}</p>
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
  const keys = useSubmitKeys();
  const form = useRef<HTMLFormElement>(null);
  // The button, disabled while the order is sent, had dropped the focus: it goes back to the field to
  // fix, else to the first one (where the next order starts). Not when the shopper went on elsewhere.
  const refocus = (field: "amount" | "description" = "amount") => {
    const active = document.activeElement;
    if (active && active !== document.body && !form.current?.contains(active)) return;
    form.current?.querySelector<HTMLInputElement>(`#order-${field}`)?.focus();
  };
  const create = useMutation({
    mutationFn: (input: { amount: number; description: string; idempotencyKey: string }) =>
      api.orders.create.mutate(input),
    onSuccess: ({ order }) => {
      keys.succeeded();
      onCreated(order);
      setAmount("");
      setDescription("");
      refocus();
    },
    onError: (caught) => {
      const info = describeError(caught);
      setErrors({
        amount: info.fields.amount,
        description: info.fields.description,
        form: Object.keys(info.fields).length ? undefined : info.message,
      });
      refocus(!info.fields.amount && info.fields.description ? "description" : "amount");
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (create.isPending) return;
    const parsed = parseRoubles(amount);
    // The server's own description rule (trim, 1–500 characters, no NUL or broken Unicode).
    const text = descriptionSchema.safeParse(description);
    const next = {
      amount: parsed.ok ? undefined : parsed.error,
      description: text.success ? undefined : `Description ${text.error.issues[0]?.message ?? "is invalid"}`,
    };
    setErrors(next);
    if (!parsed.ok || !text.success) return;
    const input = { amount: parsed.kopecks, description: text.data };
    // Pressed again after a failure, the same order goes with the same key: if the first attempt was
    // placed and only its answer got lost, the server answers with that order instead of a second one.
    create.mutate({ ...input, idempotencyKey: keys.keyFor(input) });
  };

  // While the order is sent (or waits for the network) the fields show what is being sent: typing
  // then would change nothing sent, and the success would blank it.
  const sending = create.isPending;
  return (
    <section aria-labelledby="new-order-title" className="card">
      <h2 id="new-order-title">New order</h2>
      <form ref={form} onSubmit={submit} noValidate aria-busy={sending || undefined}>
        <Field
          id="order-amount"
          label="Order amount (₽)"
          inputMode="decimal"
          placeholder="250,00"
          required
          readOnly={sending}
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
          readOnly={sending}
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
        <button type="submit" disabled={sending}>
          {sending ? "Placing…" : "Place order"}
        </button>
        {/* Rendered empty from the start: a live region announces what later appears in it. */}
        <p role="status" className={create.isPaused ? "notice" : undefined}>
          {create.isPaused ? offlineNotice("the order will be placed") : null}
        </p>
      </form>
    </section>
  );
}
