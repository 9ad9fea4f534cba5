import "../zod-setup.ts";
import { z } from "zod";

const required = (type: string) => (issue: { input: unknown }) =>
  issue.input === undefined || issue.input === null ? "is required" : `must be ${type}`;

export const EMAIL_MAX = 254;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** Trimmed and lower-cased: the stored form, so "A@X.io " and "a@x.io" are one account. */
export const emailSchema = z
  .string({ error: required("a string") })
  .trim()
  .min(1, { error: "is required" })
  .max(EMAIL_MAX, { error: `must be at most ${EMAIL_MAX} characters` })
  .pipe(z.email({ error: "must be a valid email address" }))
  .transform((email) => email.toLowerCase())
  .meta({ example: "shopper@example.com" });

/** A password being set: 8–128 characters (the upper bound keeps hashing cheap to ask for). */
export const newPasswordSchema = z
  .string({ error: required("a string") })
  .min(1, { error: "is required" })
  .min(PASSWORD_MIN, { error: `must be at least ${PASSWORD_MIN} characters` })
  .max(PASSWORD_MAX, { error: `must be at most ${PASSWORD_MAX} characters` });

/** A password being checked: any non-empty string within the bound; a wrong one is a 401, not a 400. */
export const passwordSchema = z
  .string({ error: required("a string") })
  .min(1, { error: "is required" })
  .max(PASSWORD_MAX, { error: `must be at most ${PASSWORD_MAX} characters` });

export const credentialsSchema = z.strictObject(
  { email: emailSchema, password: passwordSchema },
  { error: required("an object with email and password") },
);

export const newCredentialsSchema = z.strictObject(
  { email: emailSchema, password: newPasswordSchema },
  { error: required("an object with email and password") },
);

export const roleSchema = z.enum(["SHOPPER", "ADMIN"]);

export const publicUserSchema = z
  .object({ id: z.uuid(), email: z.string(), role: roleSchema })
  .meta({ id: "User" });

export type PublicUser = z.infer<typeof publicUserSchema>;
