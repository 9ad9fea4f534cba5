import type { z } from "zod";
import type { Context } from "../../context.ts";
import { REFRESH_COOKIE, clearedSessionCookies } from "../../cookies.ts";
import type { logoutInputSchema } from "./logout.schema.ts";

type Options = { ctx: Context; input: z.output<typeof logoutInputSchema> };

/**
 * Ends the session of the refresh token (body or cookie) and that of the access token the call is made
 * with, and clears the cookies. Always succeeds. An API client that signs out with its bearer token alone
 * must not be told `ok` while its session lives on.
 */
export async function logoutHandler({ ctx, input }: Options) {
  const token = input?.refreshToken ?? ctx.cookies[REFRESH_COOKIE];
  if (token) await ctx.deps.refreshTokens.revokeFamilyOf(token);
  // A browser's cookies name the same session twice; the second revocation then finds nothing to do.
  if (ctx.user && ctx.session) await ctx.deps.refreshTokens.revokeSession(ctx.user.id, ctx.session.id);
  ctx.setCookies(clearedSessionCookies({ secure: ctx.secure }));
  ctx.log.info(
    { userId: ctx.user?.id, hadToken: Boolean(token), hadSession: Boolean(ctx.session) },
    "signed out",
  );
  return { ok: true as const };
}
