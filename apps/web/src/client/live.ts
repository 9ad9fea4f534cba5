"use client";
import { useEffect, useRef } from "react";
import { api, describeError, isUnauthorized, refreshSession, resetLiveConnection } from "./api.ts";

export type OrderEvent = {
  eventId: string;
  orderId: string;
  userId: string;
  status: "NEW" | "FINISHED" | "CANCELLED";
  reason: "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;
  amount: number;
  description: string;
  occurredAt: string;
};

/**
 * Follows an order feed over WebSocket. Each event is handed over once (a reconnect may replay some: they
 * are dropped by id); `onReconnect` lets a page refetch what it shows. An expired session is refreshed
 * and the feed resumes from the last event seen.
 */
export function useOrderFeed(
  feed: "orders.onStatusChange" | "admin.orderFeed",
  enabled: boolean,
  onEvent: (event: OrderEvent) => void,
  onReconnect?: () => void,
) {
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };

  useEffect(() => {
    if (!enabled) return;
    const seen = new Set<string>();
    let lastEventId: string | undefined;
    let starts = 0;
    let subscription: { unsubscribe(): void } | undefined;
    let stopped = false;
    let failures = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const subscribe = () => {
      const procedure = feed === "orders.onStatusChange" ? api.orders.onStatusChange : api.admin.orderFeed;
      subscription = procedure.subscribe(lastEventId ? { lastEventId } : undefined, {
        onStarted: () => {
          if (starts++ > 0) handlers.current.onReconnect?.();
        },
        onData: ({ id, data }) => {
          failures = 0;
          lastEventId = id;
          if (seen.has(data.eventId)) return;
          seen.add(data.eventId);
          handlers.current.onEvent(data as OrderEvent);
        },
        onError: async (error) => {
          if (stopped) return;
          if (isUnauthorized(error)) {
            // The socket's cookie expired: refresh it and reconnect (a refused refresh signs the user out).
            if (await refreshSession()) {
              resetLiveConnection();
              if (!stopped) subscribe();
            }
            return;
          }
          const { code } = describeError(error);
          if (code === "FORBIDDEN" || code === "BAD_REQUEST") return; // retrying cannot help
          // Any other failure (a server restarting, Redis briefly away): try again, more slowly each time.
          const delay = Math.min(30_000, 1_000 * 2 ** Math.min(failures++, 5));
          retry = setTimeout(() => {
            if (!stopped) subscribe();
          }, delay);
        },
      });
    };
    subscribe();
    return () => {
      stopped = true;
      clearTimeout(retry);
      subscription?.unsubscribe();
    };
  }, [feed, enabled]);
}
