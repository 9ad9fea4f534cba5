import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import type { feedInputSchema } from "../../live/feed.schema.ts";
import { trackedOrderFeed } from "../../live/order-feed.ts";

type Options = {
  ctx: Context & { user: Caller };
  input: z.output<typeof feedInputSchema>;
  signal: AbortSignal | undefined;
};

/** Every order's creation and settlement, live, for admins; resumes after `lastEventId`. */
export function orderFeedHandler({ ctx, input, signal }: Options) {
  return trackedOrderFeed(ctx.deps, { all: true }, input?.lastEventId, signal);
}
