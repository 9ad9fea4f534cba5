import { z } from "zod";
import { uuidInputSchema } from "../../inputs.ts";
import { roleSchema } from "../../identity/schemas.ts";
import { orderSchema } from "../orders/order.schema.ts";
import { accountSchema } from "../payments/account.schema.ts";
import { ledgerEntrySchema } from "../payments/ledgerEntry.schema.ts";

/** How many of the user's latest orders and ledger entries the page shows. */
export const USER_PAGE_LATEST = 20;

export const getUserInputSchema = z.strictObject({ userId: uuidInputSchema("a user id (a UUID)") });

export const getUserOutputSchema = z.object({
  user: z.object({
    id: z.uuid(),
    email: z.string(),
    role: roleSchema,
    createdAt: z.iso.datetime({ offset: true }),
  }),
  account: accountSchema.nullable().meta({ description: "null when the user has not opened one" }),
  orders: z.array(orderSchema).meta({ description: `The latest ${USER_PAGE_LATEST} orders, newest first` }),
  ledger: z
    .array(ledgerEntrySchema)
    .meta({ description: `The latest ${USER_PAGE_LATEST} ledger entries, newest first` }),
});
