import { tracked } from "@trpc/server";
import type { z } from "zod";
import type { Caller, Context } from "../../context.ts";
import type { feedInputSchema } from "../../live/feed.schema.ts";
import { orderFeed } from "../../live/order-feed.ts";

type Options = {
  ctx: Context & { user: Caller };
  input: z.output<typeof feedInputSchema>;
  signal: AbortSignal | undefined;
};

/** Every order's creation and settlement, live, for admins; resumes after `lastEventId`. */
export async function* orderFeedHandler({ ctx, input, signal }: Options) {
  const bus = ctx.deps.orderEvents();
  await bus.ready;
  for await (const event of orderFeed(bus, ctx.deps.ordersDb, { all: true }, input?.lastEventId, signal)) {
    yield tracked(event.eventId, event);
  }
}
