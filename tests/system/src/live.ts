// A WebSocket subscriber as a browser tab would hold one: tRPC's wsLink against one web instance.
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import WebSocket from "ws";
import type { AppRouter } from "@gozon/api/root";

export type FeedEvent = {
  /** The change's place in the order change log (a reset carries only this, and `reset: true`). */
  position: number;
  reset?: true;
  orderId: string;
  userId: string;
  status: string;
  reason: string | null;
  occurredAt: string;
  /** The user's email, on the admin feed only. */
  email?: string | null;
};

export type Received = FeedEvent & { receivedAt: number };

export function subscribeFeed(
  baseUrl: string,
  /** The access token, or a function that gives a current one on each (re)connect. */
  token: string | (() => Promise<string>),
  feed: "orders.onStatusChange" | "admin.orderFeed",
  lastEventId?: string,
) {
  const events: Received[] = [];
  const errors: unknown[] = [];
  let started = false;
  const wsClient = createWSClient({
    url: `${baseUrl.replace(/^http/, "ws")}/api/trpc-ws`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: typeof token === "string" ? { token } : async () => ({ token: await token() }),
  });
  const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  const handlers = {
    onStarted: () => (started = true),
    onData: (tracked: { id: string; data: unknown }) =>
      events.push({ ...(tracked.data as FeedEvent), receivedAt: Date.now() }),
    onError: (error: unknown) => errors.push(error),
  };
  const input = lastEventId ? { lastEventId } : undefined;
  const subscription =
    feed === "orders.onStatusChange"
      ? trpc.orders.onStatusChange.subscribe(input, handlers)
      : trpc.admin.orderFeed.subscribe(input, handlers);
  return {
    events,
    errors,
    isStarted: () => started,
    close() {
      subscription.unsubscribe();
      wsClient.close();
    },
  };
}
