import type { Caller, Context } from "../../context.ts";
import { balanceFeed } from "../../live/balance-feed.ts";

type Options = { ctx: Context & { user: Caller }; signal: AbortSignal | undefined };

/** Top-ups of the caller's own account (by the caller elsewhere, or by an admin) and its opening, live. */
export function onBalanceChangeHandler({ ctx, signal }: Options) {
  return balanceFeed(ctx.deps.balanceEvents(), ctx.user.id, signal);
}
