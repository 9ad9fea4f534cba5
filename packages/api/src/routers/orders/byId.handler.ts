import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { getOrder, orderHistory } from "@gozon/orders/read-orders";
import type { Caller, Context } from "../../context.ts";
import type { byIdInputSchema } from "./byId.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof byIdInputSchema> };

/**
 * One of the caller's orders with its history, oldest first (see `orderHistory`). Another user's
 * order is a 404, exactly like one that does not exist, and its history is never read. The history is
 * read after the order, so it may already show a change the order did not yet (never the reverse).
 */
export async function byIdHandler({ ctx, input }: Options) {
  const order = await getOrder(ctx.deps.ordersDb, ctx.user.id, input.id);
  if (!order) throw new TRPCError({ code: "NOT_FOUND", message: "No such order" });
  return { order, history: await orderHistory(ctx.deps.ordersDb, order) };
}
