import type { Order } from "@gozon/db/generated/orders/client";
import type { PaymentResult } from "@gozon/messaging/contracts";
import type { MessageKey } from "@gozon/messaging/signing";
import type { SqlClient } from "@gozon/messaging/sql";
import type { Logger } from "@gozon/core/logger";
import { publishOrderEvents, type OrderEvent } from "./order-events.ts";
import { toEvent, type ChangeRow } from "./order-log.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";

/** What a settle reports of an order. */
export type SettledOrder = Pick<
  Order,
  "id" | "userId" | "amount" | "description" | "status" | "cancelReason" | "createdAt" | "updatedAt"
>;

export type SettleOutcome =
  | { order: SettledOrder; changed: boolean; refused?: undefined }
  | { order: null; changed: false; refused?: undefined }
  /** The result names a real order but not its user or its amount: it changed nothing (poison). */
  | { order: SettledOrder; changed: false; refused: string };

export type SettleGroup = {
  /** One per result, in the order given. */
  outcomes: SettleOutcome[];
  /** Every change stamped by this call, in position order: the settles, and creates that were waiting (its
   * own orders', and up to 500 others). */
  events: OrderEvent[];
};

type SettledRow = ChangeRow & { settled: boolean; created_at: Date | null };

/**
 * Applies payment results: NEW → FINISHED or NEW → CANCELLED (with the reason), and nothing else. A
 * repeated or late result finds its order already settled and changes nothing; the caller still gets the
 * order. A result whose userId or amount is not the order's changes nothing either, and its outcome says
 * `refused`: a result is input from Redis, and only the order row is the truth (a forged result named a
 * real order with a random user and an amount of 1). One call is one statement (`settle_orders`,
 * migrations 20261201090000, 20261202130000, 20261204230000 and 20261205080000, which finds each order by
 * its primary key and updates it only when user and amount match): the orders, their change-log rows and
 * the rows' positions commit together, so the events can go out right after.
 */
export async function settleOrders(db: SqlClient, results: PaymentResult[]): Promise<SettleGroup> {
  const ids = results.map((r) => r.payload.orderId);
  const userIds = results.map((r) => r.payload.userId);
  const amounts = results.map((r) => r.payload.amount);
  const statuses = results.map((r) => (r.type === "PaymentSucceeded" ? "FINISHED" : "CANCELLED"));
  const reasons = results.map((r) => (r.type === "PaymentFailed" ? r.payload.reason : null));
  const rows = await db.$queryRaw<SettledRow[]>`
    SELECT settled, position, order_id::text, user_id::text, status, cancel_reason, at, amount, description,
           created_at
        FROM settle_orders(${ids}::uuid[], ${userIds}::uuid[], ${amounts}::bigint[], ${statuses}::"OrderStatus"[],
                       ${reasons}::"CancelReason"[])`;

  const changed = new Map<string, SettledOrder>();
  for (const row of rows) {
    if (!row.settled) continue;
    changed.set(row.order_id, {
      id: row.order_id,
      userId: row.user_id,
      amount: row.amount,
      description: row.description,
      status: row.status,
      cancelReason: row.cancel_reason,
      createdAt: row.created_at!,
      updatedAt: row.at,
    });
  }
  // Results that changed nothing (repeated, late, for an unknown order, or not matching their order): read
  // their orders as they are.
  const unchanged = ids.filter((id) => !changed.has(id));
  const current = new Map<string, SettledOrder>();
  if (unchanged.length > 0) {
    const found = await db.$queryRaw<OrderRow[]>`SELECT * FROM orders WHERE id = ANY(${unchanged}::uuid[])`;
    for (const row of found) current.set(row.id, orderFromRow(row));
  }
  // A result repeated inside one group changed its order once: the first copy reports the change.
  const reported = new Set<string>();
  const outcomes = ids.map((id, i): SettleOutcome => {
    const order = changed.get(id);
    const now = order ?? current.get(id);
    const refused = now && mismatch(now, results[i]!);
    if (refused) return { order: now, changed: false, refused };
    if (order && !reported.has(id)) {
      reported.add(id);
      return { order, changed: true };
    }
    return now ? { order: now, changed: false } : { order: null, changed: false };
  });
  return { outcomes, events: rows.map(toEvent) };
}

/** What of `result` differs from its order (the same test as `settle_orders`'), or undefined. */
function mismatch(order: SettledOrder, result: PaymentResult): string | undefined {
  const differs = [
    // As Postgres compares uuids: any letter case.
    order.userId.toLowerCase() !== result.payload.userId.toLowerCase() && "userId",
    order.amount !== BigInt(result.payload.amount) && "amount",
  ].filter(Boolean);
  return differs.length > 0 ? `${differs.join(" and ")} of the result differ from the order's` : undefined;
}

/** One payment result (see `settleOrders`). */
export async function settleOrder(db: SqlClient, result: PaymentResult): Promise<SettleOutcome> {
  const { outcomes } = await settleOrders(db, [result]);
  return outcomes[0]!;
}

/**
 * Settles a group and starts announcing what it stamped, right after the commit; `announced` resolves
 * when the events are out. The caller need not wait for it before its next group: the events are handed
 * to the publisher's connection here, before that group starts, so they still go out in position order.
 * The positions are committed first: an event lost here is filled in from the log by the web instances
 * (they notice the hole, or read the log on their next poll), so a failed publish only costs latency and
 * is not an error of the settle.
 */
export async function settleAndAnnounce(
  db: SqlClient,
  { publisher, redisPrefix, signingKey, log }: AnnounceTo,
  results: PaymentResult[],
): Promise<{ outcomes: SettleOutcome[]; announced: Promise<void> }> {
  const { outcomes, events } = await settleOrders(db, results);
  const announced = publishOrderEvents(publisher, redisPrefix, signingKey, events).catch((err: unknown) =>
    log.warn({ err, count: events.length }, "could not publish order events; feeds will read the log"),
  );
  return { outcomes, announced };
}

export type AnnounceTo = {
  publisher: Parameters<typeof publishOrderEvents>[0];
  redisPrefix: string;
  /** The events are signed under it (MESSAGE_SIGNING_KEY). */
  signingKey: MessageKey;
  log: Logger;
};
