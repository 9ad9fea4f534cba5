// Paged lists: the page size every list takes, and opaque cursors. A cursor is the position of the last
// item of a page (e.g. its time and id), tagged with the list it belongs to, in base64url JSON: clients
// pass it back unchanged, and anything else (edited, from another list) is a 400 naming `cursor`.
import { z } from "zod";
import { queryIntegerSchema } from "./inputs.ts";

export const PAGE_LIMIT_DEFAULT = 20;
export const PAGE_LIMIT_MAX = 100;

/** `limit`: 1–100 items per page, 20 when absent; on REST, the query string's text. */
export const pageLimitSchema = (what: string) =>
  queryIntegerSchema(
    z
      .number({ error: "must be an integer" })
      .int({ error: "must be an integer" })
      .min(1, { error: "must be at least 1" })
      .max(PAGE_LIMIT_MAX, { error: `must be at most ${PAGE_LIMIT_MAX}` }),
  )
    // A prefault (parsed like a value sent) rather than a default: the document shows no default of a pipe.
    .prefault(PAGE_LIMIT_DEFAULT)
    .meta({ description: `${what} per page, 1–${PAGE_LIMIT_MAX} (default ${PAGE_LIMIT_DEFAULT})` });

/** The problem with a `cursor` that is not one of this list's, in its shape or (for the handler) its owner. */
export const BAD_CURSOR = "must be the nextCursor of a previous page of this list";

/**
 * A list's cursor: `encode(position)` makes the opaque string, `schema` turns one back into the position
 * (a 400 naming the field when it is not one of this list's cursors).
 */
export function cursorCodec<P extends z.ZodType>(list: string, position: P) {
  const encode = (value: z.input<P>): string =>
    Buffer.from(JSON.stringify([list, value]), "utf8").toString("base64url");

  const schema = z
    .string({ error: "must be a string" })
    .max(512, { error: BAD_CURSOR })
    .transform((text, ctx): z.output<P> => {
      const parsed = decode(text);
      const result =
        Array.isArray(parsed) && parsed.length === 2 && parsed[0] === list
          ? position.safeParse(parsed[1])
          : undefined;
      if (!result?.success) {
        ctx.issues.push({ code: "custom", message: BAD_CURSOR, input: text });
        return z.NEVER;
      }
      return result.data;
    })
    .optional()
    .meta({ description: "`nextCursor` of the previous page; absent for the first page" });

  return { encode, schema };
}

function decode(text: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    return JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

// Postgres's timestamptz has no year 0 (an ISO string can name it, e.g. 0001-01-01T00:00:00+01:00).
const EARLIEST = Date.parse("0001-01-01T00:00:00Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");
const TIME_RANGE_PROBLEM = "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z";

/** An ISO 8601 date-time with an offset, as a Date within what Postgres stores. */
export const isoTimeSchema = (problem: string) =>
  z.iso
    .datetime({ offset: true, error: problem })
    .transform((text) => new Date(text))
    .refine((time) => time.getTime() >= EARLIEST && time.getTime() <= LATEST, { error: TIME_RANGE_PROBLEM });

/** A time inside a cursor: the ISO string of a Date, back to the Date. */
export const cursorTimeSchema = isoTimeSchema("must be an ISO date-time");

/** `nextCursor` in a response: null on the last page. */
export const nextCursorSchema = z
  .string()
  .nullable()
  .meta({ description: "Pass it as `cursor` for the next page; null on the last page" });
