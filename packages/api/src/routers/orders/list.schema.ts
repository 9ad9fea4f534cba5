import { z } from "zod";
import { uuidInputSchema } from "../../inputs.ts";
import { pageLimitSchema } from "../../paging.ts";
import { orderSchema } from "./order.schema.ts";

export const LIST_CURSOR_PROBLEM = "must be the nextCursor of a previous page";

export const listInputSchema = z
  .strictObject({
    limit: pageLimitSchema("Orders"),
    cursor: uuidInputSchema("the nextCursor of a previous page")
      .optional()
      .meta({ description: "`nextCursor` of the previous page" }),
  })
  .optional();

export const listOutputSchema = z.object({
  orders: z.array(orderSchema),
  nextCursor: z
    .uuid()
    .nullable()
    .meta({ description: "Pass it as `cursor` for the next page; null at the end" }),
  position: z.number().int().nonnegative().meta({
    description: "The order feed's position when the list was read: subscribe with it as `lastEventId`",
  }),
});
