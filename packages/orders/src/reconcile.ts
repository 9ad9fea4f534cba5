import type { OrdersClient } from "@gozon/db/clients";
import { toSafeNumber } from "@gozon/db/money";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";

/**
 * Asks payments again for orders still NEW after `olderThanMs` — e.g. when Redis lost the queued request.
 * Safe to repeat: payments answers a request for an order it already decided with the recorded result,
 * and the ledger allows one debit per order. Returns how many orders were re-requested.
 */
export async function reRequestStalePayments(db: OrdersClient, olderThanMs: number, batch = 200) {
  return db.$transaction(async (tx) => {
    const stale = await tx.$queryRaw<{ id: string; user_id: string; amount: bigint }[]>`
      SELECT id, user_id, amount FROM orders
      WHERE status = 'NEW' AND payment_requested_at < now() - make_interval(secs => ${olderThanMs / 1000}::float8)
      ORDER BY payment_requested_at
      LIMIT ${batch}
      FOR UPDATE SKIP LOCKED`;
    for (const order of stale) {
      await writeOutbox(
        tx,
        buildMessage("PaymentRequested", {
          orderId: order.id,
          userId: order.user_id,
          amount: toSafeNumber(order.amount),
        }),
      );
    }
    if (stale.length > 0) {
      await tx.$executeRaw`
        UPDATE orders SET payment_requested_at = now() WHERE id = ANY(${stale.map((o) => o.id)}::uuid[])`;
    }
    return stale.length;
  });
}
