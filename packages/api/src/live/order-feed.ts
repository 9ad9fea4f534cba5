// A resumable stream of order changes for one subscription (a shopper's own orders, or all for admins).
//
// Order of operations matters: attach to this process's bus first (holding its events), then replay from
// the order change log every change after the client's last position, page by page however far behind it
// is, then stream the held and live events, skipping what the replay already sent. The bus delivers in
// position order without holes (it heals its own pub/sub gaps from the log), so neither does the feed.
import { tracked } from "@trpc/server";
import { changesAfter, latestChanges, logBounds } from "@gozon/orders/order-log";
import type { OrderEvent } from "@gozon/orders/order-events";
import type { SqlClient } from "@gozon/messaging/sql";
import type { ApiDeps } from "../deps.ts";
import type { OrderEventBus } from "./order-event-bus.ts";

/** Rows per replay page: bounded reads, whatever the distance to catch up. */
const REPLAY_PAGE = 500;
/** Live events held for a subscription while it replays; past this the replay simply reads further. */
const MAX_HELD = 10_000;

/**
 * A shopper's own orders, or every order (admins). An admin's feed opened without a position starts
 * with the latest `recent` changes, so the page is not empty until the next order; a shopper's page lists
 * its orders itself (`orders.list` returns the position to subscribe from).
 */
export type FeedScope = { userId: string } | { all: true; recent: number };

/**
 * Sent instead of a replay when the client's position is no longer in the log (purged by retention) or
 * was never handed out: the page refetches what it shows and goes on from `position`.
 */
export type FeedReset = { reset: true; position: number };

export type FeedItem<E extends OrderEvent = OrderEvent> = E | FeedReset;

/**
 * Adds to a run of events what the order log does not hold (an admin's feed names each order's user),
 * one call per run rather than per event; it must keep the events and their order.
 */
export type EnrichEvents<E extends OrderEvent> = (events: OrderEvent[]) => Promise<E[]>;

export async function* orderFeed<E extends OrderEvent = OrderEvent>(
  bus: OrderEventBus,
  db: SqlClient,
  scope: FeedScope,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
  enrich?: EnrichEvents<E>,
): AsyncGenerator<FeedItem<E>> {
  const userId = "all" in scope ? null : scope.userId;
  const ready = (events: OrderEvent[]): E[] | Promise<E[]> =>
    enrich && events.length > 0 ? enrich(events) : (events as E[]);
  let held: OrderEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = bus.subscribe((event) => {
    if (userId && event.userId !== userId) return;
    if (held.length >= MAX_HELD) {
      held = [];
      overflowed = true;
    }
    held.push(event);
    wake?.();
  });
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    // Taken in the same tick as the subscription: every change after it reaches the listener above.
    const busHead = bus.head;
    let last: number;
    if (lastEventId) {
      last = Number(lastEventId);
      const bounds = await logBounds(db);
      // Purged since the client saw it (a hole would follow), or a position the log never had.
      if ((bounds.first > 0 && last < bounds.first - 1) || last > bounds.last) {
        yield { reset: true, position: bounds.last };
        last = bounds.last;
      }
    } else if ("all" in scope) {
      const recent = await latestChanges(db, scope.recent);
      for (const event of await ready(recent.filter((e) => e.position <= busHead))) yield event;
      last = busHead;
    } else {
      last = busHead;
    }

    for (;;) {
      // Replay from the log until a page comes back short: by then it has read past everything the bus
      // had delivered when it attached, and whatever came later is held.
      for (;;) {
        overflowed = false;
        const page = await changesAfter(db, last, { userId, limit: REPLAY_PAGE });
        for (const event of await ready(page)) {
          yield event;
          last = event.position;
        }
        if (page.length < REPLAY_PAGE && !overflowed) break;
      }
      // Live: the held events, then each new one. A slow client that lets too many pile up goes back
      // to reading the log.
      while (!signal?.aborted && !overflowed) {
        // Skipped: what the replay sent.
        const batch = held.filter((event) => event.position > last);
        held = [];
        for (const event of await ready(batch)) {
          yield event;
          last = event.position;
        }
        if (held.length === 0 && !overflowed) {
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          wake = undefined;
        }
      }
      if (signal?.aborted) return;
    }
  } finally {
    unsubscribe();
  }
}

/** The feed as tRPC tracked events: the event id is the log position a reconnecting client sends back. */
export async function* trackedOrderFeed<E extends OrderEvent = OrderEvent>(
  deps: Pick<ApiDeps, "orderEvents" | "ordersDb">,
  scope: FeedScope,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
  enrich?: EnrichEvents<E>,
) {
  const bus = deps.orderEvents();
  await bus.ready;
  for await (const item of orderFeed(bus, deps.ordersDb, scope, lastEventId, signal, enrich)) {
    yield tracked(String(item.position), item);
  }
}
