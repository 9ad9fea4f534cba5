import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import { idempotencyKeyOf } from "../../idempotency.ts";
import { topUpAccount } from "../payments/topUpAccount.ts";
import type { adminTopUpInputSchema } from "./topUp.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof adminTopUpInputSchema> };

/** An admin adds money to any user's account; 404 when that user has none. `Idempotency-Key` honoured. */
export async function adminTopUpHandler({ ctx, input }: Options) {
  return topUpAccount(ctx, {
    userId: input.userId,
    amount: input.amount,
    scope: "admin.topUp",
    key: idempotencyKeyOf(ctx, input.idempotencyKey),
    noAccount: "This user has no account",
  });
}
