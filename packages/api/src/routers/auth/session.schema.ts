import { z } from "zod";
import { publicUserSchema } from "../../identity/schemas.ts";

/** What a successful register, login or refresh returns (the browser also gets it as cookies). */
export const sessionOutputSchema = z
  .object({
    user: publicUserSchema,
    accessToken: z.string().meta({ description: "JWT for `Authorization: Bearer`; short-lived" }),
    refreshToken: z
      .string()
      .optional()
      .meta({
        description:
          "Opaque; exchange it at auth/refresh for a new pair. Absent for browser requests (those with " +
          "an `Origin` or `Sec-Fetch-Site` header and no `Authorization`): a browser keeps it only in " +
          "its HttpOnly cookie, out of reach of scripts.",
      }),
    expiresIn: z.number().int().meta({ description: "Seconds until the access token expires" }),
  })
  .meta({ id: "Session" });

export type SessionOutput = z.infer<typeof sessionOutputSchema>;

/** A refresh token from the body (API clients); browsers send the `gozon_rt` cookie instead. */
export const refreshTokenInputSchema = z
  .strictObject({
    refreshToken: z
      .string({ error: "must be a string" })
      .min(1, { error: "must not be empty" })
      .max(512, { error: "must be at most 512 characters" })
      .optional(),
  })
  .optional();
