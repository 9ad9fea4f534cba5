import type { Order } from "@gozon/db/generated/orders/client";
import type { SqlClient } from "@gozon/messaging/sql";
import { toOrderDto, type OrderDto } from "./order-dto.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";

export type OrderPage = {
  orders: OrderDto[];
  nextCursor: string | null;
  /** The cursor is not one of the user's orders (the page is then empty): the caller's input is wrong. */
  unknownCursor: boolean;
};

/** The caller's orders, newest first. The cursor is the id of the last order of the previous page. */
export async function listOrders(
  db: SqlClient,
  userId: string,
  { limit, cursor }: { limit: number; cursor?: string | null },
): Promise<OrderPage> {
  // A cursor from another user's list finds no row, so the comparison is NULL and the page is empty.
  const rows = await db.$queryRaw<OrderRow[]>`
    SELECT * FROM orders
    WHERE user_id = ${userId}::uuid
      AND (${cursor ?? null}::uuid IS NULL OR (created_at, id) < (
        SELECT created_at, id FROM orders WHERE id = ${cursor ?? null}::uuid AND user_id = ${userId}::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT ${limit + 1}`;
  const page = rows.slice(0, limit).map((row) => toOrderDto(orderFromRow(row)));
  // An unknown cursor always gives an empty page (above); a nextCursor never did when it was handed out
  // (an older order followed it). So only an empty page has its cursor looked up, by primary key:
  // paging itself stays one query.
  const unknownCursor = !!cursor && rows.length === 0 && !(await getOrder(db, userId, cursor));
  return { orders: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null, unknownCursor };
}

/** The order if it is the caller's; null otherwise (another user's order is indistinguishable from none). */
export async function getOrder(db: SqlClient, userId: string, orderId: string): Promise<OrderDto | null> {
  const [row] = await db.$queryRaw<OrderRow[]>`
    SELECT * FROM orders WHERE id = ${orderId}::uuid AND user_id = ${userId}::uuid`;
  return row ? toOrderDto(orderFromRow(row)) : null;
}

/** Any order by id, for services acting on it (announcing its state), not for answering a caller. */
export async function findOrder(db: SqlClient, orderId: string): Promise<Order | null> {
  const [row] = await db.$queryRaw<OrderRow[]>`SELECT * FROM orders WHERE id = ${orderId}::uuid`;
  return row ? orderFromRow(row) : null;
}

export type OrderHistoryEntry = { status: Order["status"]; reason: Order["cancelReason"]; at: string };

/**
 * The order's changes, oldest first, from the order change log (the one place history comes from while
 * the log holds them). The log is purged after `ORDER_LOG_RETENTION_DAYS` (order-log.ts), but an order
 * only ever changes from NEW to its final status, and its row keeps both: when and how it was created,
 * and what it became when. So what the log no longer holds is taken from the row, and an old order
 * keeps its history.
 */
export async function orderHistory(
  db: SqlClient,
  order: Pick<OrderDto, "id" | "status" | "cancelReason" | "createdAt" | "updatedAt">,
): Promise<OrderHistoryEntry[]> {
  const rows = await db.$queryRaw<
    { status: Order["status"]; cancel_reason: Order["cancelReason"]; at: Date }[]
  >`
    SELECT status, cancel_reason, at FROM order_changes WHERE order_id = ${order.id}::uuid ORDER BY id`;
  const history = rows.map((row) => ({
    status: row.status,
    reason: row.cancel_reason,
    at: row.at.toISOString(),
  }));
  if (history[0]?.status !== "NEW") history.unshift({ status: "NEW", reason: null, at: order.createdAt });
  // The log is read after the row, so it may hold a change the row did not show yet; never the reverse.
  if (order.status !== "NEW" && history.length === 1)
    history.push({ status: order.status, reason: order.cancelReason, at: order.updatedAt });
  return history;
}
