import { z } from "zod";
import { amountInputSchema, descriptionSchema, idempotencyKeyInputSchema, required } from "../../inputs.ts";

export { orderOutputSchema as createOutputSchema } from "./order.schema.ts";

export const createInputSchema = z.strictObject(
  { amount: amountInputSchema, description: descriptionSchema, idempotencyKey: idempotencyKeyInputSchema },
  { error: required("an object with amount and description") },
);
