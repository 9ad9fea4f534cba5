import { z } from "zod";
import { failureReasonSchema, orderStatusSchema } from "@gozon/messaging/contracts";
import { required, uuidInputSchema } from "../../inputs.ts";
import { orderSchema } from "./order.schema.ts";

export const byIdInputSchema = z.strictObject(
  { id: uuidInputSchema("an order id (a UUID)") },
  { error: required("an object with id") },
);

/** One change of an order: placed (NEW), then paid (FINISHED) or CANCELLED with the reason. */
export const orderHistoryEntrySchema = z
  .object({
    status: orderStatusSchema,
    reason: failureReasonSchema.nullable().meta({ description: "Why the order was CANCELLED" }),
    at: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "OrderHistoryEntry" });

export const byIdOutputSchema = z.object({
  order: orderSchema,
  history: z.array(orderHistoryEntrySchema).meta({ description: "The order's changes, oldest first" }),
});
