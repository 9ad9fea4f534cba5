import type { z } from "zod";
import { logBounds } from "@gozon/orders/order-log";
import { listOrders } from "@gozon/orders/read-orders";
import type { Caller, Context } from "../../context.ts";
import { invalidInput } from "../../errors.ts";
import { PAGE_LIMIT_DEFAULT } from "../../paging.ts";
import { LIST_CURSOR_PROBLEM, type listInputSchema } from "./list.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof listInputSchema> };

/**
 * The caller's own orders, newest first, a page at a time, and the live feed's position to subscribe
 * from. The position is read first: every change up to it is already in the page, and every later one
 * is replayed by `orders.onStatusChange` from it, so nothing falls between the list and the feed.
 */
export async function listHandler({ ctx, input }: Options) {
  const { last: position } = await logBounds(ctx.deps.ordersDb);
  const { orders, nextCursor, unknownCursor } = await listOrders(ctx.deps.ordersDb, ctx.user.id, {
    limit: input?.limit ?? PAGE_LIMIT_DEFAULT,
    cursor: input?.cursor ?? null,
  });
  // A well-formed id that is not one of the caller's orders would read as the end of the list.
  if (unknownCursor) throw invalidInput({ cursor: LIST_CURSOR_PROBLEM });
  return { orders, nextCursor, position };
}
