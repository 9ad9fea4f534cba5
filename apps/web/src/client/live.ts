"use client";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { api, describeError, isUnauthorized, refreshSession, resetLiveConnection } from "./api.ts";

/** An order change as the feed carries it; `position` is its place in the order change log. */
export type OrderEvent = {
  position: number;
  orderId: string;
  userId: string;
  status: "NEW" | "FINISHED" | "CANCELLED";
  reason: "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;
  amount: number;
  description: string;
  occurredAt: string;
  /** The user's email: on the admin feed only (null for a user identity does not know). */
  email?: string | null;
};

type FeedItem = OrderEvent | { reset: true; position: number };

export type FeedOptions = {
  /** The position to resume after (e.g. `orders.list`'s `position`); without it the feed starts now. */
  from?: number;
  /** The feed could not resume (the position is too old): refetch what the page shows. */
  onReset?: () => void;
  /**
   * Each time the subscription (re)starts. A page that read its data without a feed position refetches
   * here, so that no change falls between its read and the feed.
   */
  onStart?: () => void;
};

type Subscribable<Input, Item> = {
  subscribe(
    input: Input,
    callbacks: {
      onStarted: () => void;
      onData: (item: Item) => void;
      onError: (error: unknown) => void;
      onComplete: () => void;
    },
  ): { unsubscribe(): void };
};

/**
 * Keeps one subscription going for as long as the page wants it: after a refused session it refreshes
 * the session and subscribes again; after the socket is replaced (sign-in, back online) or the server
 * ends the subscription, it subscribes again at once; after any other failure (a server restarting,
 * Redis briefly away), again, more slowly each time. `input()` is asked at each (re)subscribe, so a feed
 * resumes from where it stopped.
 */
function keepSubscribed<Input, Item>(
  procedure: Subscribable<Input, Item>,
  input: () => Input,
  on: { started: () => void; data: (item: Item) => void },
) {
  let subscription: { unsubscribe(): void } | undefined;
  let stopped = false;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const again = (delay: number) => {
    retry = setTimeout(() => {
      if (!stopped) subscribe();
    }, delay);
  };

  const subscribe = () => {
    subscription = procedure.subscribe(input(), {
      onStarted: () => {
        failures = 0;
        on.started();
      },
      onData: (item) => {
        failures = 0;
        on.data(item);
      },
      onComplete: () => {
        if (!stopped) again(0);
      },
      onError: async (error) => {
        if (stopped) return;
        if (isUnauthorized(error)) {
          // The socket's session expired: refresh it and resume (a refused refresh signs the user out).
          if (await refreshSession()) {
            resetLiveConnection();
            if (!stopped) subscribe();
          }
          return;
        }
        const { code } = describeError(error);
        if (code === "FORBIDDEN" || code === "BAD_REQUEST") return; // retrying cannot help
        again(Math.min(30_000, 1_000 * 2 ** Math.min(failures++, 5)));
      },
    });
  };
  subscribe();
  return () => {
    stopped = true;
    clearTimeout(retry);
    subscription?.unsubscribe();
  };
}

/**
 * Follows an order feed over WebSocket, each change once and in order. After any disconnect, token
 * refresh or server restart it resumes after the last position it handed over, so nothing is missed;
 * a change replayed twice is dropped by its position.
 */
export function useOrderFeed(
  feed: "orders.onStatusChange" | "admin.orderFeed",
  enabled: boolean,
  onEvent: (event: OrderEvent) => void,
  options: FeedOptions = {},
) {
  const handlers = useRef({ onEvent, ...options });
  handlers.current = { onEvent, ...options };

  useEffect(() => {
    if (!enabled) return;
    let lastPosition = handlers.current.from;
    const procedure: Subscribable<{ lastEventId: string } | undefined, { data: unknown }> =
      feed === "orders.onStatusChange" ? api.orders.onStatusChange : api.admin.orderFeed;
    return keepSubscribed(
      procedure,
      () => (lastPosition === undefined ? undefined : { lastEventId: String(lastPosition) }),
      {
        started: () => handlers.current.onStart?.(),
        data: ({ data }) => {
          const item = data as FeedItem;
          if ("reset" in item) {
            lastPosition = item.position;
            handlers.current.onReset?.();
            return;
          }
          if (lastPosition !== undefined && item.position <= lastPosition) return;
          lastPosition = item.position;
          handlers.current.onEvent(item);
        },
      },
    );
  }, [feed, enabled]);
}

/**
 * Calls `onChange` when a top-up changes the signed-in user's balance (made in another tab or by an
 * admin) or their account is opened, or with `userId` (admins) that user's, and each time the
 * subscription starts: a change made before that was not sent (while it was down, or between the page's
 * first read and the first start), so the page reads its balance again then.
 */
export function useBalanceChanges(enabled: boolean, onChange: () => void, userId?: string) {
  const handler = useRef(onChange);
  handler.current = onChange;
  useEffect(() => {
    if (!enabled) return;
    const on = { started: () => handler.current(), data: () => handler.current() };
    return userId === undefined
      ? keepSubscribed(api.payments.onBalanceChange, () => undefined, on)
      : keepSubscribed(api.admin.onBalanceChange, () => ({ userId }), on);
  }, [enabled, userId]);
}

/**
 * What a page calls on each live change to read its query (`queryKey`) again. A change during a read is
 * read once that read is done, so a burst (a feed opens with the latest changes) costs one or two reads,
 * not one each.
 */
export function useRereadOnChange(
  queryKey: QueryKey,
  query: { isFetching: boolean; refetch: () => Promise<unknown> },
) {
  const queryClient = useQueryClient();
  const changedMeanwhile = useRef(false);
  useEffect(() => {
    if (query.isFetching || !changedMeanwhile.current) return;
    changedMeanwhile.current = false;
    void query.refetch();
  }, [query.isFetching, query]);
  return () => {
    if (queryClient.isFetching({ queryKey, exact: true }) > 0) changedMeanwhile.current = true;
    else void query.refetch();
  };
}
