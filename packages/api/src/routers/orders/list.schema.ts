import { z } from "zod";
import { required, uuidInputSchema } from "../../inputs.ts";
import { orderSchema } from "./order.schema.ts";

export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;

export const listInputSchema = z
  .strictObject({
    limit: z
      .number({ error: required("an integer") })
      .int({ error: "must be an integer" })
      .min(1, { error: "must be at least 1" })
      .max(LIST_LIMIT_MAX, { error: `must be at most ${LIST_LIMIT_MAX}` })
      .default(LIST_LIMIT_DEFAULT)
      .meta({ description: `Orders per page, 1–${LIST_LIMIT_MAX}` }),
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
