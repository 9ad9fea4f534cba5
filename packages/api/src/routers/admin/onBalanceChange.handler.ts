import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import { balanceFeed } from "../../live/balance-feed.ts";
import type { getUserInputSchema } from "./getUser.schema.ts";

type Options = {
  ctx: Context & { user: Caller };
  input: z.output<typeof getUserInputSchema>;
  signal: AbortSignal | undefined;
};

/**
 * Top-ups of one user's account (by the user, or by any admin) and its opening, live, for an admin's page
 * of that user: its account and statement are read again on each.
 */
export function onBalanceChangeHandler({ ctx, input, signal }: Options) {
  return balanceFeed(ctx.deps.balanceEvents(), input.userId, signal);
}
