import { z } from "zod";
import { cursorCodec, nextCursorSchema, pageLimitSchema } from "../../paging.ts";
import { ledgerEntrySchema } from "./ledgerEntry.schema.ts";

/** The largest BIGINT: a larger id would fail the query's cast (SQLSTATE 22003), a 500, not a 400. */
const BIGINT_MAX = 2n ** 63n - 1n;

/** Position in a statement: the id of the last entry shown (a decimal BIGINT). */
export const ledgerCursor = cursorCodec(
  "ledger",
  z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/)
    .transform((id) => BigInt(id))
    .refine((id) => id <= BIGINT_MAX),
);

export const ledgerInputSchema = z
  .strictObject({ limit: pageLimitSchema("Entries"), cursor: ledgerCursor.schema })
  .optional();

export const ledgerOutputSchema = z.object({
  entries: z.array(ledgerEntrySchema),
  nextCursor: nextCursorSchema,
});
