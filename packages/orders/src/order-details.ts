// One order of a shopper with its status history, read in one statement so both come from one snapshot.
import type { Order } from "@gozon/db/generated/orders/client";
import type { SqlClient } from "@gozon/messaging/sql";
import { toOrderDto, type OrderDto } from "./order-dto.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";
import type { OrderHistoryEntry } from "./read-orders.ts";

export type OrderDetails = { order: OrderDto; history: OrderHistoryEntry[] };

type HistoryJson = { status: Order["status"]; reason: Order["cancelReason"]; at: string };

/**
 * The order and its changes (oldest first, from the order change log) if it is the caller's; null
 * otherwise, so another user's order is indistinguishable from none.
 */
export async function getOrderDetails(
  db: SqlClient,
  userId: string,
  orderId: string,
): Promise<OrderDetails | null> {
  const [row] = await db.$queryRaw<(OrderRow & { history: HistoryJson[] })[]>`
    SELECT o.*, coalesce((
      SELECT json_agg(json_build_object('status', c.status, 'reason', c.cancel_reason, 'at', c.at) ORDER BY c.id)
      FROM order_changes c WHERE c.order_id = o.id), '[]'::json) AS history
    FROM orders o WHERE o.id = ${orderId}::uuid AND o.user_id = ${userId}::uuid`;
  if (!row) return null;
  return {
    order: toOrderDto(orderFromRow(row)),
    history: row.history.map((change) => ({
      status: change.status,
      reason: change.reason,
      at: new Date(change.at).toISOString(),
    })),
  };
}
