// The admin's live feed of every order, as the bench's clock of record for "settled": each FINISHED or
// CANCELLED event is stamped (high-resolution) the moment the tRPC WebSocket client hands it over.
import { performance } from "node:perf_hooks";
import { waitFor } from "@gozon/core/testing";
import { subscribeFeed, type Received } from "@gozon/system-tests/live";

export type Settled = { status: string; reason: string | null; at: number; receivedAt: number };

export type SettleFeed = Awaited<ReturnType<typeof openSettleFeed>>;

export async function openSettleFeed(baseUrl: string, adminToken: string) {
  const feed = subscribeFeed(baseUrl, adminToken, "admin.orderFeed");
  const settled = new Map<string, Settled>();
  const waiters = new Map<string, (event: Settled) => void>();

  // subscribeFeed appends every event to `feed.events` from its onData handler; hooking that append
  // stamps each event in the same tick and wakes the waiter at once (no polling on the measured path).
  const append = feed.events.push.bind(feed.events);
  feed.events.push = (...items: Received[]) => {
    const at = performance.now();
    for (const event of items) {
      if (event.status === "NEW") continue;
      const record = { status: event.status, reason: event.reason, at, receivedAt: event.receivedAt };
      if (!settled.has(event.orderId)) settled.set(event.orderId, record);
      const waiter = waiters.get(event.orderId);
      if (waiter) {
        waiters.delete(event.orderId);
        waiter(record);
      }
    }
    // The bench keeps its own map; the raw list would only grow.
    return append();
  };

  await waitFor(() => feed.isStarted(), { timeoutMs: 30_000, what: "the admin feed to start" });

  return {
    /** Resolves with the order's settle event (maybe already received), or null after `timeoutMs`. */
    settled(orderId: string, timeoutMs: number): Promise<Settled | null> {
      const known = settled.get(orderId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(orderId);
          resolve(null);
        }, timeoutMs);
        waiters.set(orderId, (event) => {
          clearTimeout(timer);
          resolve(event);
        });
      });
    },
    errors: feed.errors,
    close: () => feed.close(),
  };
}
