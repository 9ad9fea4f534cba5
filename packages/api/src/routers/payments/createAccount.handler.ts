import { TRPCError } from "@trpc/server";
import { AccountExists, createAccount } from "@gozon/payments/accounts";
import type { Caller, Context } from "../../context.ts";

type Options = { ctx: Context & { user: Caller } };

/** Opens the caller's account with balance 0. One per user: a second call, even a concurrent one, is 409. */
export async function createAccountHandler({ ctx }: Options) {
  try {
    const account = await createAccount(ctx.deps.paymentsDb, ctx.user.id);
    ctx.log.info({ userId: ctx.user.id }, "account opened");
    return { account };
  } catch (error) {
    if (error instanceof AccountExists) {
      throw new TRPCError({ code: "CONFLICT", message: "You already have an account" });
    }
    throw error;
  }
}
