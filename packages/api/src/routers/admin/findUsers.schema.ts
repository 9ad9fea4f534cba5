import { z } from "zod";
import { roleSchema } from "../../identity/schemas.ts";
import { pageLimitSchema } from "../../paging.ts";
import { accountSchema } from "../payments/account.schema.ts";

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
    cursor: z
      .string({ error: "must be a string" })
      .max(254, { error: "must be at most 254 characters" })
      // Postgres cannot compare text with a NUL in it: refuse it here rather than fail there.
      .refine((text) => !text.includes("\u0000"), { error: "must not contain NUL characters" })
      .optional()
      .meta({ description: "`nextCursor` of the previous page" }),
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
  nextCursor: z.string().nullable(),
});
