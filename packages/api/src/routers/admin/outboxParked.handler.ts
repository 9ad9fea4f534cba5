import type { z } from "zod";
import { parkedOrdersOutbox } from "@gozon/orders/outbox-parked";
import { parkedPaymentsOutbox } from "@gozon/payments/outbox-parked";
import type { Context } from "../../context.ts";
import { PARKED_LATEST, type outboxParkedOutputSchema } from "./outboxParked.schema.ts";

type Options = { ctx: Context };

/**
 * The outbox rows each service's relay parked (they failed to publish too many times while Redis
 * answered), read through each service. A relay retries a parked row after a cool-down.
 */
export async function outboxParkedHandler({
  ctx,
}: Options): Promise<z.input<typeof outboxParkedOutputSchema>> {
  const [orders, payments] = await Promise.all([
    parkedOrdersOutbox(ctx.deps.ordersDb, PARKED_LATEST),
    parkedPaymentsOutbox(ctx.deps.paymentsDb, PARKED_LATEST),
  ]);
  return { orders, payments };
}
