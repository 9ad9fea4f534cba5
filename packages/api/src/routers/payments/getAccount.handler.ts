import { TRPCError } from "@trpc/server";
import { getAccount } from "@gozon/payments/accounts";
import type { Caller, Context } from "../../context.ts";

type Options = { ctx: Context & { user: Caller } };

/** The caller's account; 404 when they have not opened one. */
export async function getAccountHandler({ ctx }: Options) {
  const account = await getAccount(ctx.deps.paymentsDb, ctx.user.id);
  if (!account)
    throw new TRPCError({ code: "NOT_FOUND", message: "You have no account yet: open one first" });
  return { account };
}
