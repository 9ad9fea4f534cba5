// Reading every user's orders: the admin's orders list.
import type { Order } from "@gozon/db/generated/orders/client";
import type { SqlClient } from "@gozon/messaging/sql";
import { toOrderDto, type OrderDto } from "./order-dto.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";

/** Where the previous page ended: its last order's creation time and id. */
export type OrderPosition = { createdAt: Date; id: string };

export type AllOrdersFilter = {
  status?: Order["status"] | null;
  /** Orders of this user only. */
  userId?: string | null;
  /** Created at or after. */
  from?: Date | null;
  /** Created strictly before. */
  to?: Date | null;
};

export type AllOrdersPage = { orders: OrderDto[]; hasMore: boolean };

/**
 * Orders of every user, newest first (creation time, then id), filtered, `limit` of them after `before`.
 * Served by the indexes (created_at, id), (status, created_at, id) and (user_id, created_at, id).
 */
export async function listAllOrders(
  db: SqlClient,
  filter: AllOrdersFilter,
  { limit, before }: { limit: number; before?: OrderPosition | null },
): Promise<AllOrdersPage> {
  const rows = await db.$queryRaw<OrderRow[]>`
    SELECT * FROM orders
    WHERE (${filter.status ?? null}::"OrderStatus" IS NULL OR status = ${filter.status ?? null}::"OrderStatus")
      AND (${filter.userId ?? null}::uuid IS NULL OR user_id = ${filter.userId ?? null}::uuid)
      AND (${filter.from ?? null}::timestamptz IS NULL OR created_at >= ${filter.from ?? null}::timestamptz)
      AND (${filter.to ?? null}::timestamptz IS NULL OR created_at < ${filter.to ?? null}::timestamptz)
      AND (${before?.createdAt ?? null}::timestamptz IS NULL
           OR (created_at, id) < (${before?.createdAt ?? null}::timestamptz, ${before?.id ?? null}::uuid))
    ORDER BY created_at DESC, id DESC
    LIMIT ${limit + 1}`;
  return {
    orders: rows.slice(0, limit).map((row) => toOrderDto(orderFromRow(row))),
    hasMore: rows.length > limit,
  };
}
