import { z } from "zod";
import { roleSchema } from "../../identity/schemas.ts";
import { cursorCodec, nextCursorSchema, pageLimitSchema } from "../../paging.ts";
import { accountSchema } from "../payments/account.schema.ts";

/**
 * Position in the list (ordered by email): the last user shown's email, unique, so it needs no tie-break.
 * Postgres cannot compare text with a NUL in it: such a position is refused here rather than fail there.
 */
export const usersCursor = cursorCodec(
  "admin.users",
  z
    .string()
    .min(1)
    .max(254)
    .refine((email) => !email.includes("\u0000")),
);

export const findUsersInputSchema = z
  .strictObject({
    email: z
      .string({ error: "must be a string" })
      .refine((text) => !text.includes("\u0000"), { error: "must not contain NUL characters", abort: true })
      .trim()
      .max(254, { error: "must be at most 254 characters" })
      .optional()
      .meta({ description: "A fragment of the email, any letter case" }),
    limit: pageLimitSchema("Users"),
    cursor: usersCursor.schema,
  })
  .optional();

export const findUsersOutputSchema = z.object({
  users: z.array(
    z.object({
      id: z.uuid(),
      email: z.string(),
      role: roleSchema,
      account: accountSchema.nullable(),
    }),
  ),
  nextCursor: nextCursorSchema,
});
