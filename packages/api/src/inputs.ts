// Input rules shared by the procedures of several routers: money, free text, ids and idempotency keys.
import "./zod-setup.ts";
import { z } from "zod";
import { MAX_AMOUNT, MIN_AMOUNT } from "@gozon/messaging/limits";

/** "is required" for a missing value, else "must be <type>". */
export const required = (type: string) => (issue: { input: unknown }) =>
  issue.input === undefined || issue.input === null ? "is required" : `must be ${type}`;

/**
 * trpc-to-openapi's REST handler switches on zod's coercion for every number (and boolean, date) of an
 * input object, body fields included, by mutating the schema; so `"10"` would pass as 10 on REST and,
 * once mutated, on tRPC too (and `true` as 1). A pipe is left alone, and zod-openapi documents it as its
 * output type. `read` is what the value goes through first: the same on every transport, at every time.
 */
const withoutCoercion = <T extends z.ZodType>(schema: T, read = (value: unknown) => value) =>
  z.preprocess(read, schema);

/** Decimal digits, optionally negative, few enough to be exact as a JavaScript number. */
const DECIMAL_INTEGER = /^-?[0-9]{1,15}$/;

/**
 * An integer that REST takes from the query string (`?limit=5`), where every value is text: decimal
 * digits are read as their number. tRPC shares the schema, so it reads such text alike; anything else
 * that is not a number (`true`, `[50]`, `""`, `"5.0"`, `" 5"`) is passed on as it is, and refused.
 */
export const queryIntegerSchema = <T extends z.ZodType>(schema: T) =>
  withoutCoercion(schema, (value) =>
    typeof value === "string" && DECIMAL_INTEGER.test(value) ? Number(value) : value,
  );

/** An amount of money in minor units (kopecks): an integer 1 … 1 000 000 000, never a string or a float. */
export const amountInputSchema = withoutCoercion(
  z
    .number({ error: required("an integer number of minor units") })
    .int({ error: "must be an integer number of minor units" })
    .min(MIN_AMOUNT, { error: `must be at least ${MIN_AMOUNT}` })
    .max(MAX_AMOUNT, { error: `must be at most ${MAX_AMOUNT}` }),
).meta({ description: "Minor units (kopecks), an integer", example: 150_000 });

/** Money in a response: an integer number of minor units. */
export const moneySchema = z.number().int();

export const DESCRIPTION_MAX = 500;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (UTF-16 units). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Free text: any Unicode, trimmed, 1–500 characters (code points). NUL and unpaired surrogates are
 * refused: Postgres cannot store them, and no person types them.
 */
export const descriptionSchema = z
  .string({ error: required("a string") })
  .refine((text) => !text.includes("\u0000"), { error: "must not contain NUL characters", abort: true })
  .refine((text) => !LONE_SURROGATE.test(text), {
    error: "must be well-formed Unicode (no lone surrogates)",
    abort: true,
  })
  .trim()
  .min(1, { error: "must not be blank" })
  // zod measures strings in code points, as Postgres's char_length (the orders CHECK) does.
  .max(DESCRIPTION_MAX, { error: `must be at most ${DESCRIPTION_MAX} characters` })
  .meta({
    description: `1–${DESCRIPTION_MAX} characters (code points) after trimming, any Unicode`,
    example: "Ёлочные игрушки 🎄",
  });

/**
 * A uuid in a path or query parameter, named in the 400 when it is not one. Lower-cased, as Postgres and
 * every id the API hands out write it: ids are also compared as strings (events' ids against a feed's
 * user, a listing's user against the one an email found), where `5B1C…` would match nothing.
 */
export const uuidInputSchema = (what = "a UUID") =>
  z.uuid({ error: (issue) => (issue.input === undefined ? "is required" : `must be ${what}`) }).toLowerCase();

/**
 * `Idempotency-Key`: 1–255 printable ASCII characters (a UUID is a good choice), no space at either end:
 * HTTP strips those from a header, so `"k1 "` in a tRPC input would be another key than the same text
 * sent as the header.
 */
export const IDEMPOTENCY_KEY = /^(?! )[\x20-\x7e]{1,255}(?<! )$/;
export const IDEMPOTENCY_KEY_PROBLEM =
  "must be 1-255 printable ASCII characters, without a space at either end";

/** The key in a tRPC input (the REST form takes the `Idempotency-Key` header as well). */
export const idempotencyKeyInputSchema = z
  .string({ error: required("a string") })
  .regex(IDEMPOTENCY_KEY, { error: IDEMPOTENCY_KEY_PROBLEM })
  .optional()
  .meta({
    description:
      "Makes a retry safe: the same key with the same request returns the first result and has no " +
      "second effect; with another request it is a 422. The `Idempotency-Key` header does the same.",
  });

/** Documents the header on the REST routes that honour it (trpc-to-openapi `requestHeaders`). */
export const idempotencyHeadersSchema = z.object({
  "Idempotency-Key": z
    .string()
    .regex(IDEMPOTENCY_KEY)
    .optional()
    .meta({
      description:
        "1–255 printable ASCII characters, no space at either end, on one header line. The same key with the same body returns the first result " +
        "without a second effect; the same key with another body is a 422.",
    }),
});

/**
 * The input of a procedure that takes none. Without `.input()` tRPC ignores whatever is sent (e.g.
 * `POST /accounts {"balance":100000}` answered 201): here it may be absent or `{}` (what REST passes
 * for an empty body or query), and any field is a 400 naming it, as everywhere else.
 */
export const noInputSchema = z.strictObject({}).optional();
