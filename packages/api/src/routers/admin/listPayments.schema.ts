import { z } from "zod";
import { failureReasonSchema } from "@gozon/messaging/contracts";
import { moneySchema, uuidInputSchema } from "../../inputs.ts";
import { cursorCodec, cursorTimeSchema, nextCursorSchema, pageLimitSchema } from "../../paging.ts";

const OUTCOMES = ["SUCCEEDED", "FAILED"] as const;

/** Position in the list: the last payment shown's decision time and order id. */
export const paymentsCursor = cursorCodec("admin.payments", z.tuple([cursorTimeSchema, z.uuid()]));

export const listPaymentsInputSchema = z
  .strictObject({
    userId: uuidInputSchema("a user id (a UUID)")
      .optional()
      .meta({ description: "Only this user's payments" }),
    outcome: z
      .enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(", ")}` })
      .optional()
      .meta({ description: "Only payments with this outcome" }),
    limit: pageLimitSchema("Payments"),
    cursor: paymentsCursor.schema,
  })
  .optional();

/** A decided payment: the payments service's answer to an order's payment request, with the user's email. */
export const paymentSchema = z
  .object({
    orderId: z.uuid(),
    userId: z.uuid(),
    amount: moneySchema.meta({ description: "Minor units (kopecks), an integer" }),
    outcome: z.enum(OUTCOMES),
    reason: failureReasonSchema.nullable().meta({ description: "Why a FAILED payment failed" }),
    decidedAt: z.iso.datetime({ offset: true }),
    email: z.string().nullable().meta({ description: "The user's email (null if unknown)" }),
  })
  .meta({ id: "Payment" });

export const listPaymentsOutputSchema = z.object({
  payments: z.array(paymentSchema),
  nextCursor: nextCursorSchema,
});
