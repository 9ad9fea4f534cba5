import type { OrdersClient } from "@gozon/db/clients";
import { toOrderDto, type OrderDto } from "./order-dto.ts";

export type OrderPage = { orders: OrderDto[]; nextCursor: string | null };

/** The caller's orders, newest first. The cursor is the id of the last order of the previous page. */
export async function listOrders(
  db: OrdersClient,
  userId: string,
  { limit, cursor }: { limit: number; cursor?: string | null },
): Promise<OrderPage> {
  const rows = await db.order.findMany({
    where: { userId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    // A cursor from another user's list simply matches nothing of this user's.
    ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
  });
  const page = rows.slice(0, limit);
  return {
    orders: page.map(toOrderDto),
    nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** The order if it is the caller's; null otherwise (another user's order is indistinguishable from none). */
export async function getOrder(db: OrdersClient, userId: string, orderId: string): Promise<OrderDto | null> {
  const order = await db.order.findFirst({ where: { id: orderId, userId } });
  return order ? toOrderDto(order) : null;
}
