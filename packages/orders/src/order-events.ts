import { buildMessage, parseMessageText, type PayloadOf } from "@gozon/messaging/contracts";
import { signedText, type MessageKey } from "@gozon/messaging/signing";

/** An order change as the live feed carries it; `position` is its place in the order change log. */
export type OrderEvent = PayloadOf<"OrderStatusChanged">;

/** The Redis pub/sub channel every web instance listens on. */
export const orderEventsChannel = (redisPrefix: string) => `${redisPrefix}:order-events`;

type Pipeline = { publish(channel: string, message: string): unknown; exec(): Promise<unknown> };
type Publisher = { pipeline(): Pipeline };

/**
 * Announces changes to every web instance, each in the versioned envelope every message travels in,
 * signed under `key` (the web instances drop anything else), pipelined (one round trip for a batch).
 * Called after the positions commit: a change lost here is still in the log, and the web instances fill
 * the hole from there.
 */
export async function publishOrderEvents(
  redis: Publisher,
  redisPrefix: string,
  key: MessageKey,
  events: OrderEvent[],
) {
  if (events.length === 0) return;
  const channel = orderEventsChannel(redisPrefix);
  const pipeline = redis.pipeline();
  for (const event of events) {
    const message = buildMessage("OrderStatusChanged", event, { occurredAt: new Date(event.occurredAt) });
    pipeline.publish(channel, signedText(key, message));
  }
  await pipeline.exec();
}

/**
 * The event inside a pub/sub message, or null for anything that is not a valid OrderStatusChanged signed
 * under `key`: anyone who can publish on the channel could otherwise take a position before the real
 * change and put it on a shopper's feed.
 */
export function parseOrderEvent(key: MessageKey, raw: string): OrderEvent | null {
  return parseMessageText(key, raw, "OrderStatusChanged");
}
