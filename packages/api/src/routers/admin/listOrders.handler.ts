import type { z } from "zod";
import { listAllOrders } from "@gozon/orders/all-orders";
import type { Context } from "../../context.ts";
import { invalidInput } from "../../errors.ts";
import { emailsOf, findUserByEmail } from "../../identity/users.ts";
import { PAGE_LIMIT_DEFAULT } from "../../paging.ts";
import { adminOrdersCursor, type listOrdersInputSchema } from "./listOrders.schema.ts";

type Options = { ctx: Context; input: z.output<typeof listOrdersInputSchema> };

/**
 * Every user's orders, newest first, filtered by status, user (id or email) and creation time, each with
 * its user's email. Orders live in the orders database and emails in identity: an email filter becomes a
 * user id first, and the page's emails are looked up in one query.
 */
export async function listOrdersHandler({ ctx, input }: Options) {
  const { status, userId, email, from, to, limit = PAGE_LIMIT_DEFAULT, cursor } = input ?? {};
  if (from && to && from > to) throw invalidInput({ from: "must not be after to" });

  let user = userId ?? null;
  if (email !== undefined) {
    const found = await findUserByEmail(ctx.deps.identityDb, email);
    if (!found || (userId && found.id !== userId)) return { orders: [], nextCursor: null };
    user = found.id;
  }

  const { orders, hasMore } = await listAllOrders(
    ctx.deps.ordersDb,
    { status, userId: user, from, to },
    { limit, before: cursor ? { createdAt: cursor[0], id: cursor[1] } : null },
  );
  const emails = await emailsOf(
    ctx.deps.identityDb,
    orders.map((order) => order.userId),
  );
  const last = orders.at(-1);
  return {
    orders: orders.map((order) => ({ ...order, email: emails.get(order.userId) ?? null })),
    nextCursor: hasMore && last ? adminOrdersCursor.encode([last.createdAt, last.id]) : null,
  };
}
