import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { Context } from "../../context.ts";
import { REFRESH_COOKIE } from "../../cookies.ts";
import type { refreshInputSchema } from "./refresh.schema.ts";
import { sessionFor } from "./session.ts";

type Options = { ctx: Context; input: z.output<typeof refreshInputSchema> };

const REFUSALS = {
  missing: "No refresh token: sign in",
  unknown: "The refresh token is not valid: sign in again",
  expired: "The refresh token has expired: sign in again",
  revoked: "The refresh token was revoked: sign in again",
  reused: "The refresh token was already used; every session of this sign-in is revoked: sign in again",
} as const;

/** Exchanges a refresh token (body or cookie) for a new pair; the old one is spent. */
export async function refreshHandler({ ctx, input }: Options) {
  const spent = input?.refreshToken !== undefined ? "body" : "cookie";
  const token = input?.refreshToken ?? ctx.cookies[REFRESH_COOKIE];
  const result = token
    ? await ctx.deps.refreshTokens.rotate(token)
    : ({ ok: false, reason: "missing" } as const);
  if (!result.ok) {
    // The cookies are left as they are. By the time this answer arrives the browser may hold a newer
    // session: another tab signed in, or changed the password (which revokes the session this tab
    // refreshed), meanwhile. Clearing them would end that session too; a refused token does no harm.
    ctx.log.info({ reason: result.reason }, "refresh refused");
    throw new TRPCError({ code: "UNAUTHORIZED", message: REFUSALS[result.reason] });
  }
  return sessionFor(ctx, result.user, result, spent);
}
