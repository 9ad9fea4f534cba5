import { z } from "zod";
import { moneySchema } from "../../inputs.ts";

/** One ledger entry of a statement (`LedgerEntryDto` of @gozon/payments). */
export const ledgerEntrySchema = z
  .object({
    id: z.string().meta({ description: "Opaque entry id" }),
    kind: z.enum(["TOP_UP", "ORDER_DEBIT"]),
    amount: moneySchema.meta({
      description: "Signed minor units (kopecks): a top-up positive, a debit negative",
    }),
    balanceAfter: moneySchema
      .min(0)
      .meta({ description: "The balance right after this entry, in minor units (kopecks)" }),
    orderId: z.uuid().nullable().meta({ description: "The order a debit paid for; null for a top-up" }),
    createdAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "LedgerEntry" });
