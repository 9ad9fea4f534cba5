import { TRPCError } from "@trpc/server";
import {
  AccountNotFound,
  BalanceLimitReached,
  InvalidAmount,
  MAX_BALANCE,
  topUp,
} from "@gozon/payments/accounts";
import { publishBalanceEvent } from "@gozon/payments/balance-events";
import type { Caller, Context } from "../../context.ts";
import { invalidInput, unprocessable } from "../../errors.ts";
import { keyReuseError, type CallerKey } from "../../idempotency.ts";

/**
 * A top-up of `userId`'s account by the caller (the owner, or an admin), through the payments service:
 * balance and ledger change in one transaction, and with a key, the key is recorded in that same
 * transaction, so a retry returns the first result without a second top-up. Keys are the caller's,
 * per `scope`.
 */
export async function topUpAccount(
  ctx: Context & { user: Caller },
  opts: { userId: string; amount: number; scope: string; key: CallerKey | null; noAccount: string },
) {
  const { userId, amount, scope, key } = opts;
  try {
    const { account, replayed } = await topUp(ctx.deps.paymentsDb, userId, amount, {
      idempotency: key && { userId: ctx.user.id, scope, key: key.key, request: { userId, amount } },
    });
    ctx.log.info({ userId, amount, by: ctx.user.id, withKey: key !== null, replayed }, "top-up done");
    // A replay changed nothing, and its balance is the first call's: announcing it would tell the
    // owner's pages of a top-up that never happened, with a balance that may be old by now.
    if (replayed) return { account };
    // The owner's open pages show the new balance. Not awaited, and never the top-up's failure: it is
    // committed, and a page that misses this reads its balance when its feed reconnects.
    publishBalanceEvent(ctx.deps.redis, ctx.deps.config.REDIS_PREFIX, ctx.deps.signingKey, {
      userId,
      amount,
      balance: account.balance,
    }).catch((err: unknown) => ctx.log.warn({ err, userId }, "could not announce a top-up"));
    return { account };
  } catch (error) {
    if (error instanceof AccountNotFound) throw new TRPCError({ code: "NOT_FOUND", message: opts.noAccount });
    if (error instanceof InvalidAmount) throw invalidInput({ amount: "is not a valid amount" });
    if (error instanceof BalanceLimitReached) {
      throw unprocessable("This top-up would take the balance past the largest an account may hold", {
        amount: `would take the balance past ${MAX_BALANCE}`,
      });
    }
    throw keyReuseError(error, key);
  }
}
