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
 * resuming after `lastEventId`. Each event names its user's `email` (null for a user identity does not
 * know), as the admin's order lists do; the emails of a run of events are read at most once per process.
 */
export function orderFeedHandler({ ctx, input, signal }: Options) {
  const { emails } = ctx.deps;
  return trackedOrderFeed(
    ctx.deps,
    { all: true, recent: ADMIN_FEED_RECENT },
    input?.lastEventId,
    signal,
    async (events) => {
      const found = await emails.load(events.map((event) => event.userId));
      return events.map((event) => ({ ...event, email: found.get(event.userId) ?? null }));
    },
  );
}
