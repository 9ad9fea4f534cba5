import { z } from "zod";

/** Changes an admin's feed replays before the live events when it opens fresh (two per settled order). */
export const ADMIN_FEED_RECENT = 50;

/**
 * `lastEventId` is the last log position the client saw (tRPC's tracked events send it back on
 * reconnect); the feed resumes right after it. Anything but a decimal position is a 400.
 */
export const feedInputSchema = z
  .strictObject({
    lastEventId: z
      .string()
      .regex(/^(0|[1-9]\d{0,14})$/, { error: "must be a position the feed sent (a decimal integer)" })
      .nullish(),
  })
  .optional();
