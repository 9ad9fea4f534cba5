// Fan-out of order events inside one web process. Every web instance holds one Redis subscriber on the
// order-events channel (the workers and the API publish there) and hands each event to the subscriptions
// of this process; Redis pub/sub is what makes an event reach a browser on any instance.
import { Redis } from "ioredis";
import type { Logger } from "@gozon/core/logger";
import { orderStatusChangedSchema } from "@gozon/messaging/contracts";
import { orderEventsChannel, type OrderEvent } from "@gozon/orders/order-events";

export type OrderEventListener = (event: OrderEvent) => void;

export type OrderEventBus = {
  subscribe(listener: OrderEventListener): () => void;
  /** Resolves once the Redis subscription is active (events published before may be missed: see replay). */
  ready: Promise<void>;
  readonly listeners: number;
  close(): Promise<void>;
};

export function createOrderEventBus(redisUrl: string, redisPrefix: string, log: Logger): OrderEventBus {
  const listeners = new Set<OrderEventListener>();
  const channel = orderEventsChannel(redisPrefix);
  // A subscriber connection can do nothing else, hence its own; ioredis re-subscribes after a reconnect.
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: "web-order-events" });
  subscriber.on("error", (err: Error) => log.warn({ err: err.message }, "order events subscriber error"));
  subscriber.on("message", (_channel: string, raw: string) => {
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      data = undefined;
    }
    const parsed = orderStatusChangedSchema.safeParse(data);
    if (!parsed.success) {
      log.warn({ channel }, "ignored a malformed order event");
      return;
    }
    for (const listener of listeners) listener(parsed.data);
  });
  const ready = subscriber.subscribe(channel).then(() => undefined);
  ready.catch((err: unknown) => log.error({ err }, "order events subscription failed"));

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready,
    get listeners() {
      return listeners.size;
    },
    async close() {
      listeners.clear();
      subscriber.disconnect();
    },
  };
}
