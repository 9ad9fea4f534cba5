import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import { idempotencyKeyOf, keyReuseError } from "../../idempotency.ts";
import type { createInputSchema } from "./create.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof createInputSchema> };

/**
 * Places an order: the order (NEW) and its payment request commit together in the orders service; the
 * payment happens asynchronously. `Idempotency-Key` honoured: a double click or a retry makes one order.
 */
export async function createHandler({ ctx, input }: Options) {
  const key = idempotencyKeyOf(ctx, input.idempotencyKey);
  let order;
  try {
    order = await ctx.deps.placeOrder(
      { userId: ctx.user.id, amount: input.amount, description: input.description },
      key?.key,
    );
  } catch (error) {
    throw keyReuseError(error, key);
  }
  ctx.deps.metrics.ordersCreated.inc();
  ctx.log.info(
    { orderId: order.id, amount: order.amount, withKey: key !== null },
    "order placed or replayed",
  );
  return { order };
}
