import type { Order } from "@gozon/db/generated/orders/client";
import { toSafeNumber } from "@gozon/db/money";
import { orderStatusChangedSchema, type PayloadOf } from "@gozon/messaging/contracts";

export type OrderEvent = PayloadOf<"OrderStatusChanged">;

/** The Redis pub/sub channel every web instance listens on. */
export const orderEventsChannel = (redisPrefix: string) => `${redisPrefix}:order-events`;

/**
 * Each state of an order is one event. Its id sorts by the time of the change (then by order id), so a
 * page can resume after the last id it saw, and the orders table itself is the replay source.
 */
export function eventIdOf(orderId: string, updatedAt: Date) {
  return `${updatedAt.getTime().toString().padStart(15, "0")}-${orderId}`;
}

export function parseEventId(eventId: string): { at: Date; orderId: string } | null {
  const match = /^(\d{15})-([0-9a-f-]{36})$/.exec(eventId);
  return match ? { at: new Date(Number(match[1])), orderId: match[2] as string } : null;
}

export function toOrderEvent(order: Order): OrderEvent {
  return orderStatusChangedSchema.parse({
    eventId: eventIdOf(order.id, order.updatedAt),
    orderId: order.id,
    userId: order.userId,
    status: order.status,
    reason: order.cancelReason,
    amount: toSafeNumber(order.amount),
    description: order.description,
    occurredAt: order.updatedAt.toISOString(),
  });
}

type Publisher = { publish(channel: string, message: string): Promise<number> };

/**
 * Announces the order's current state to every web instance. Called after the commit, on every delivery
 * (even a repeated one): receivers drop duplicates, and a crash before this line is covered by replay.
 */
export async function publishOrderEvent(redis: Publisher, redisPrefix: string, order: Order) {
  const event = toOrderEvent(order);
  await redis.publish(orderEventsChannel(redisPrefix), JSON.stringify(event));
  return event;
}
