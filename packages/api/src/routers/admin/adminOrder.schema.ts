import { z } from "zod";
import { orderSchema } from "../orders/order.schema.ts";

/** An order as the admin lists it: with its user's email. */
export const adminOrderSchema = orderSchema
  .extend({ email: z.string().nullable().meta({ description: "The user's email (null if unknown)" }) })
  .meta({ id: "AdminOrder" });
