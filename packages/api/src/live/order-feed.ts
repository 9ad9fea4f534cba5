// A resumable stream of order events for one subscription (a shopper's own orders, or all for admins).
//
// Order of operations matters: attach to the live bus first (buffering), then replay from Postgres what
// changed since the client's last event id, then stream live events, skipping what was already sent.
// Redis pub/sub drops messages while a subscriber is away, so the orders table is the replay source.
import { EventEmitter, on } from "node:events";
import { tracked } from "@trpc/server";
import { parseEventId, toOrderEvent, type OrderEvent } from "@gozon/orders/order-events";
import { latestOrderChanges, ordersChangedSince } from "@gozon/orders/read-orders";
import type { SqlClient } from "@gozon/messaging/sql";
import type { ApiDeps } from "../deps.ts";
import type { OrderEventBus } from "./order-event-bus.ts";

/**
 * Replay sends every change strictly after the client's last event, in event-id order. (A change stamped
 * just before that event but committed after the client left would be missed; pages also refetch their
 * list when they reconnect, which covers it.)
 */
const REPLAY_LIMIT = 1_000;

/**
 * A shopper's own orders, or every order (admins). An admin's feed opened without a last event id starts
 * with the latest `recent` orders in their current state, so the page is not empty until the next order;
 * a shopper's page lists its orders itself, and old states must not pop up as fresh toasts.
 */
export type FeedScope = { userId: string } | { all: true; recent: number };

export async function* orderFeed(
  bus: OrderEventBus,
  db: SqlClient,
  scope: FeedScope,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<OrderEvent> {
  const inScope = (event: OrderEvent) => "all" in scope || event.userId === scope.userId;
  const live = new EventEmitter();
  const unsubscribe = bus.subscribe((event) => {
    if (inScope(event)) live.emit("event", event);
  });
  try {
    const stream = on(live, "event", { signal });
    const sent = new Set<string>();
    const last = lastEventId ? parseEventId(lastEventId) : null;
    const changed = last
      ? await ordersChangedSince(db, last, {
          userId: "all" in scope ? null : scope.userId,
          limit: REPLAY_LIMIT,
        })
      : "all" in scope
        ? await latestOrderChanges(db, scope.recent)
        : [];
    for (const order of changed) {
      const event = toOrderEvent(order);
      sent.add(event.eventId);
      yield event;
    }
    try {
      for await (const [event] of stream as AsyncIterable<[OrderEvent]>) {
        if (sent.has(event.eventId)) continue;
        sent.add(event.eventId);
        if (sent.size > 10_000) sent.clear(); // bounded memory on long-lived feeds; clients dedupe too
        yield event;
      }
    } catch (error) {
      if (!signal?.aborted) throw error; // the client went away: a normal end, not an error
    }
  } finally {
    unsubscribe();
  }
}

/** The feed as tRPC tracked events: the event id is what a reconnecting client sends back. */
export async function* trackedOrderFeed(
  deps: Pick<ApiDeps, "orderEvents" | "ordersDb">,
  scope: FeedScope,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
) {
  const bus = deps.orderEvents();
  await bus.ready;
  for await (const event of orderFeed(bus, deps.ordersDb, scope, lastEventId, signal)) {
    yield tracked(event.eventId, event);
  }
}
