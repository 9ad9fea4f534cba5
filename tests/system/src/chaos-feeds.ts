// The chaos run's live-feed check: one subscriber per shopper and one admin subscriber, open through the
// whole run and reconnecting on the faults (the tRPC client resumes from the last position it was given).
// At the end each must have seen the final state of every order in its scope, each change once and in
// position order, and no shopper may have seen another user's order.
import { waitFor } from "@gozon/core/testing";
import { subscribeFeed, type Received } from "./live.ts";

export type FeedCheck = {
  subscribers: number;
  events: number;
  violations: string[];
};

type Subscriber = { label: string; userId: string | null; feed: ReturnType<typeof subscribeFeed> };

export function openChaosFeeds(
  webUrls: string[],
  shoppers: { index: number; userId: string; token: () => Promise<string> }[],
  adminToken: () => Promise<string>,
) {
  const subscribers: Subscriber[] = shoppers.map((shopper) => ({
    label: `shopper ${shopper.index}`,
    userId: shopper.userId,
    feed: subscribeFeed(webUrls[shopper.index % webUrls.length]!, shopper.token, "orders.onStatusChange"),
  }));
  subscribers.push({
    label: "admin",
    userId: null,
    feed: subscribeFeed(webUrls[0]!, adminToken, "admin.orderFeed"),
  });

  const lastStates = (events: Received[]) => {
    const states = new Map<string, string>();
    for (const event of events) if (!event.reset) states.set(event.orderId, event.status);
    return states;
  };

  return {
    started: () => subscribers.every((s) => s.feed.isStarted()),
    /** Waits (up to `timeoutMs`) for every final state, then checks what each subscriber saw. */
    async check(
      orders: { id: string; userId: string; status: string }[],
      timeoutMs: number,
    ): Promise<FeedCheck> {
      const scopeOf = (s: Subscriber) => orders.filter((o) => s.userId === null || o.userId === s.userId);
      const complete = (s: Subscriber) => {
        const seen = lastStates(s.feed.events);
        return scopeOf(s).every((o) => seen.get(o.id) === o.status);
      };
      await waitFor(() => subscribers.every(complete), {
        timeoutMs,
        what: "every final state on every feed",
      }).catch(() => undefined);
      const violations: string[] = [];
      for (const s of subscribers) {
        const seen = lastStates(s.feed.events);
        const missing = scopeOf(s).filter((o) => seen.get(o.id) !== o.status);
        if (missing.length > 0) {
          violations.push(
            `live feed of ${s.label}: ${missing.length} final states not seen (e.g. order ${missing[0]!.id})`,
          );
        }
        const foreign = s.feed.events.filter((e) => !e.reset && s.userId !== null && e.userId !== s.userId);
        if (foreign.length > 0)
          violations.push(`live feed of ${s.label}: ${foreign.length} events of other users`);
        const positions = s.feed.events.filter((e) => !e.reset).map((e) => e.position);
        const disorder = positions.filter((p, i) => i > 0 && p <= positions[i - 1]!).length;
        if (disorder > 0)
          violations.push(`live feed of ${s.label}: ${disorder} events repeated or out of order`);
      }
      return {
        subscribers: subscribers.length,
        events: subscribers.reduce((n, s) => n + s.feed.events.length, 0),
        violations,
      };
    },
    close() {
      for (const s of subscribers) s.feed.close();
    },
  };
}
