import type { z } from "zod";
import { createOrder } from "@gozon/orders/create-order";
import { publishOrderEvent } from "@gozon/orders/order-events";
import { findOrder } from "@gozon/orders/read-orders";
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
    order = await createOrder(
      ctx.deps.ordersDb,
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
  await announce(ctx, order.id);
  return { order };
}

/**
 * Tells the live feeds (admins, the shopper's other tabs) about the order, in its current state. The order
 * is committed whatever happens here: a failure is logged, and feeds catch up from Postgres on replay.
 */
async function announce(ctx: Context, orderId: string) {
  try {
    const row = await findOrder(ctx.deps.ordersDb, orderId);
    if (row) await publishOrderEvent(ctx.deps.redis, ctx.deps.config.REDIS_PREFIX, row);
  } catch (err) {
    ctx.log.warn({ err, orderId }, "could not publish the order event; feeds will catch up on replay");
  }
}
