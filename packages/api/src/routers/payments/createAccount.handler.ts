import { TRPCError } from "@trpc/server";
import { AccountExists, createAccount } from "@gozon/payments/accounts";
import { publishAccountOpened } from "@gozon/payments/balance-events";
import type { Caller, Context } from "../../context.ts";

type Options = { ctx: Context & { user: Caller } };

/** Opens the caller's account with balance 0. One per user: a second call, even a concurrent one, is 409. */
export async function createAccountHandler({ ctx }: Options) {
  try {
    const account = await createAccount(ctx.deps.paymentsDb, ctx.user.id);
    ctx.log.info({ userId: ctx.user.id }, "account opened");
    // Pages already open on this user (their other tabs, an admin's page of them) show the account.
    // Not awaited, and never the opening's failure: it is committed, and such a page reads the account
    // again whenever its balance feed restarts.
    publishAccountOpened(
      ctx.deps.redis,
      ctx.deps.config.REDIS_PREFIX,
      ctx.deps.signingKey,
      ctx.user.id,
    ).catch((err: unknown) =>
      ctx.log.warn({ err, userId: ctx.user.id }, "could not announce an account opened"),
    );
    return { account };
  } catch (error) {
    if (error instanceof AccountExists) {
      throw new TRPCError({ code: "CONFLICT", message: "You already have an account" });
    }
    throw error;
  }
}
