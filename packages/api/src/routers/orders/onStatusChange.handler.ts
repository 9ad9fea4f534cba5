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

/** Status changes of the caller's own orders, live, resuming after `lastEventId` on a reconnect. */
export async function* onStatusChangeHandler({ ctx, input, signal }: Options) {
  const bus = ctx.deps.orderEvents();
  await bus.ready;
  const scope = { userId: ctx.user.id };
  for await (const event of orderFeed(bus, ctx.deps.ordersDb, scope, input?.lastEventId, signal)) {
    yield tracked(event.eventId, event);
  }
}
