// `Idempotency-Key` for the procedures that honour it: the header (REST and tRPC over HTTP) or the
// `idempotencyKey` field of the input (tRPC). The effect itself runs in @gozon/db/idempotency, in the
// transaction of the change it guards.
import { IdempotencyKeyReused } from "@gozon/db/idempotency";
import type { Context } from "./context.ts";
import { invalidInput, unprocessable } from "./errors.ts";
import { IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PROBLEM } from "./inputs.ts";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** The key, and the name the caller gave it (for an error that names the field at fault). */
export type CallerKey = { key: string; field: typeof IDEMPOTENCY_HEADER | "idempotencyKey" };

/**
 * The caller's idempotency key, or null without one. A malformed header, one sent twice, or a header
 * and an input field that disagree, is a 400 naming it. (The input field itself is checked by the input
 * schema.)
 */
export function idempotencyKeyOf(
  ctx: Pick<Context, "header" | "headerLines">,
  fromInput: string | undefined,
): CallerKey | null {
  // Node.js joins the lines into one value ("k1, k2"), which would pass for a key of its own.
  if (ctx.headerLines(IDEMPOTENCY_HEADER) > 1) {
    throw invalidInput({ [IDEMPOTENCY_HEADER]: "must be sent once" });
  }
  const header = ctx.header(IDEMPOTENCY_HEADER);
  if (header !== undefined && !IDEMPOTENCY_KEY.test(header)) {
    throw invalidInput({ [IDEMPOTENCY_HEADER]: IDEMPOTENCY_KEY_PROBLEM });
  }
  if (header !== undefined && fromInput !== undefined && header !== fromInput) {
    throw invalidInput({ idempotencyKey: `differs from the ${IDEMPOTENCY_HEADER} header` });
  }
  if (header !== undefined) return { key: header, field: IDEMPOTENCY_HEADER };
  if (fromInput !== undefined) return { key: fromInput, field: "idempotencyKey" };
  return null;
}

/**
 * A key reused with another request is a 422 (UNPROCESSABLE_CONTENT) naming the key: the request is
 * well-formed, but it cannot be processed under that key. Anything else passes through unchanged.
 */
export function keyReuseError(error: unknown, key: CallerKey | null): unknown {
  if (!(error instanceof IdempotencyKeyReused)) return error;
  return unprocessable(`This ${IDEMPOTENCY_HEADER} was already used with a different request`, {
    [key?.field ?? "idempotencyKey"]: "was already used with a different request",
  });
}
