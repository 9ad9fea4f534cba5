import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import type { feedInputSchema } from "../../live/feed.schema.ts";
import { trackedOrderFeed } from "../../live/order-feed.ts";

type Options = {
  ctx: Context & { user: Caller };
  input: z.output<typeof feedInputSchema>;
  signal: AbortSignal | undefined;
};

/** Status changes of the caller's own orders, live, resuming after `lastEventId` on a reconnect. */
export function onStatusChangeHandler({ ctx, input, signal }: Options) {
  return trackedOrderFeed(ctx.deps, { userId: ctx.user.id }, input?.lastEventId, signal);
}
