import { z } from "zod";
import { amountInputSchema, idempotencyKeyInputSchema, required } from "../../inputs.ts";

export { accountOutputSchema as topUpOutputSchema } from "./account.schema.ts";

export const topUpInputSchema = z.strictObject(
  { amount: amountInputSchema, idempotencyKey: idempotencyKeyInputSchema },
  { error: required("an object with amount") },
);
