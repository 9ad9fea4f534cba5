import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import { ADMIN_FEED_RECENT, type feedInputSchema } from "../../live/feed.schema.ts";
import { trackedOrderFeed } from "../../live/order-feed.ts";

type Options = {
  ctx: Context & { user: Caller };
  input: z.output<typeof feedInputSchema>;
  signal: AbortSignal | undefined;
};

/**
 * Every order's creation and settlement, live, for admins: from the latest ADMIN_FEED_RECENT changes, or
 * resuming after `lastEventId`.
 */
export function orderFeedHandler({ ctx, input, signal }: Options) {
  return trackedOrderFeed(ctx.deps, { all: true, recent: ADMIN_FEED_RECENT }, input?.lastEventId, signal);
}
