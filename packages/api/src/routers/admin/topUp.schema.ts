import { z } from "zod";
import { amountInputSchema, idempotencyKeyInputSchema, required, uuidInputSchema } from "../../inputs.ts";

export { accountOutputSchema as adminTopUpOutputSchema } from "../payments/account.schema.ts";

export const adminTopUpInputSchema = z.strictObject(
  {
    userId: uuidInputSchema("a user id (a UUID)"),
    amount: amountInputSchema,
    idempotencyKey: idempotencyKeyInputSchema,
  },
  { error: required("an object with userId and amount") },
);
