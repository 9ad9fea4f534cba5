import type { z } from "zod";
import { listOrders } from "@gozon/orders/read-orders";
import type { Caller, Context } from "../../context.ts";
import { LIST_LIMIT_DEFAULT, type listInputSchema } from "./list.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof listInputSchema> };

/** The caller's own orders, newest first, a page at a time. */
export async function listHandler({ ctx, input }: Options) {
  return listOrders(ctx.deps.ordersDb, ctx.user.id, {
    limit: input?.limit ?? LIST_LIMIT_DEFAULT,
    cursor: input?.cursor ?? null,
  });
}
