import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import { idempotencyKeyOf } from "../../idempotency.ts";
import type { topUpInputSchema } from "./topUp.schema.ts";
import { topUpAccount } from "./topUpAccount.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof topUpInputSchema> };

/** Adds money to the caller's own account; 404 without one. `Idempotency-Key` honoured. */
export async function topUpHandler({ ctx, input }: Options) {
  return topUpAccount(ctx, {
    userId: ctx.user.id,
    amount: input.amount,
    scope: "payments.topUp",
    key: idempotencyKeyOf(ctx, input.idempotencyKey),
    noAccount: "You have no account yet: open one first",
  });
}
