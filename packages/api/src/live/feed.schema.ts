import { z } from "zod";

/** `lastEventId` is sent back by the client on reconnect (tRPC's tracked events) to resume the feed. */
export const feedInputSchema = z.object({ lastEventId: z.string().max(64).nullish() }).optional();
