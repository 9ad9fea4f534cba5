import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { getOrderDetails } from "@gozon/orders/order-details";
import type { Caller, Context } from "../../context.ts";
import type { byIdInputSchema } from "./byId.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof byIdInputSchema> };

/**
 * One of the caller's orders with its history, oldest first. Another user's order is a 404, exactly like
 * one that does not exist.
 */
export async function byIdHandler({ ctx, input }: Options) {
  const details = await getOrderDetails(ctx.deps.ordersDb, ctx.user.id, input.id);
  if (!details) throw new TRPCError({ code: "NOT_FOUND", message: "No such order" });
  return details;
}
