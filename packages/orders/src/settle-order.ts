import type { OrdersClient } from "@gozon/db/clients";
import type { Order } from "@gozon/db/generated/orders/client";
import type { PaymentResult } from "@gozon/messaging/contracts";

export type SettleOutcome = { order: Order; changed: boolean } | { order: null; changed: false };

/**
 * Applies a payment result: NEW → FINISHED or NEW → CANCELLED (with the reason), and nothing else. A
 * repeated or late result finds the order already settled and changes nothing; the caller still gets the
 * order, so it can re-announce the status (a crash between this commit and the announcement loses nothing).
 */
export async function settleOrder(db: OrdersClient, result: PaymentResult): Promise<SettleOutcome> {
  const { orderId } = result.payload;
  const settled =
    result.type === "PaymentSucceeded"
      ? { status: "FINISHED" as const, cancelReason: null }
      : { status: "CANCELLED" as const, cancelReason: result.payload.reason };
  const { count } = await db.order.updateMany({ where: { id: orderId, status: "NEW" }, data: settled });
  const order = await db.order.findUnique({ where: { id: orderId } });
  return order ? { order, changed: count === 1 } : { order: null, changed: false };
}
