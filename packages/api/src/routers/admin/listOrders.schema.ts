import { z } from "zod";
import { orderStatusSchema } from "@gozon/messaging/contracts";
import { uuidInputSchema } from "../../inputs.ts";
import {
  cursorCodec,
  cursorTimeSchema,
  isoTimeSchema,
  nextCursorSchema,
  pageLimitSchema,
} from "../../paging.ts";
import { adminOrderSchema } from "./adminOrder.schema.ts";

/** Position in the list: the last order shown's creation time and id. */
export const adminOrdersCursor = cursorCodec("admin.orders", z.tuple([cursorTimeSchema, z.uuid()]));

const timeInputSchema = (what: string) =>
  isoTimeSchema("must be an ISO 8601 date-time, e.g. 2026-12-01T00:00:00Z")
    .optional()
    .meta({ description: what });

export const listOrdersInputSchema = z
  .strictObject({
    status: z
      .enum(orderStatusSchema.options, { error: `must be one of ${orderStatusSchema.options.join(", ")}` })
      .optional()
      .meta({ description: "Only orders in this status" }),
    userId: uuidInputSchema("a user id (a UUID)").optional().meta({ description: "Only this user's orders" }),
    email: z
      .string({ error: "must be a string" })
      .trim()
      .min(1, { error: "must not be blank" })
      .max(254, { error: "must be at most 254 characters" })
      .refine((text) => !text.includes("\u0000"), { error: "must not contain NUL characters" })
      .optional()
      .meta({ description: "Only the orders of the user with exactly this email (any letter case)" }),
    from: timeInputSchema("Only orders created at or after this time"),
    to: timeInputSchema("Only orders created before this time"),
    limit: pageLimitSchema("Orders"),
    cursor: adminOrdersCursor.schema,
  })
  .optional();

export const listOrdersOutputSchema = z.object({
  orders: z.array(adminOrderSchema),
  nextCursor: nextCursorSchema,
});
