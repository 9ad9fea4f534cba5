import { z } from "zod";
import { failureReasonSchema, orderStatusSchema } from "@gozon/messaging/contracts";
import { moneySchema } from "../../inputs.ts";

/** An order as every orders procedure returns it (`OrderDto` of @gozon/orders). */
export const orderSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    amount: moneySchema.meta({ description: "Minor units (kopecks), an integer" }),
    description: z.string(),
    status: orderStatusSchema.meta({
      description: "NEW until paid; then FINISHED (paid) or CANCELLED (payment failed)",
    }),
    cancelReason: failureReasonSchema.nullable().meta({ description: "Why a CANCELLED order failed" }),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "Order" });

export const orderOutputSchema = z.object({ order: orderSchema });
