import type { Order } from "@gozon/db/generated/orders/client";
import type { PaymentResult } from "@gozon/messaging/contracts";
import type { SqlClient } from "@gozon/messaging/sql";
import { orderFromRow, type OrderRow } from "./order-row.ts";
import { findOrder } from "./read-orders.ts";

export type SettleOutcome = { order: Order; changed: boolean } | { order: null; changed: false };

/**
 * Applies a payment result: NEW → FINISHED or NEW → CANCELLED (with the reason), and nothing else. A
 * repeated or late result finds the order already settled and changes nothing; the caller still gets the
 * order, so it can re-announce the status (a crash between this commit and the announcement loses nothing).
 * Raw SQL because this runs once per order on the hot path: one round trip in the usual case.
 */
export async function settleOrder(db: SqlClient, result: PaymentResult): Promise<SettleOutcome> {
  const { orderId } = result.payload;
  const status = result.type === "PaymentSucceeded" ? "FINISHED" : "CANCELLED";
  const reason = result.type === "PaymentFailed" ? result.payload.reason : null;
  // The change and its change-log row in one statement, so they commit together.
  const [settled] = await db.$queryRaw<OrderRow[]>`
    WITH settled AS (
      UPDATE orders
      SET status = ${status}::"OrderStatus", cancel_reason = ${reason}::"CancelReason", updated_at = now()
      WHERE id = ${orderId}::uuid AND status = 'NEW'
      RETURNING *
    ), logged AS (
      INSERT INTO order_changes (order_id, user_id, status, cancel_reason, at)
      SELECT id, user_id, status, cancel_reason, updated_at FROM settled
    )
    SELECT * FROM settled`;
  if (settled) return { order: orderFromRow(settled), changed: true };
  const current = await findOrder(db, orderId);
  return current ? { order: current, changed: false } : { order: null, changed: false };
}
