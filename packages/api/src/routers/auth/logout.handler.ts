import type { z } from "zod";
import type { Context } from "../../context.ts";
import { REFRESH_COOKIE, clearedSessionCookies } from "../../cookies.ts";
import type { logoutInputSchema } from "./logout.schema.ts";

type Options = { ctx: Context; input: z.output<typeof logoutInputSchema> };

/** Revokes the refresh token's family (body or cookie) and clears the cookies. Always succeeds. */
export async function logoutHandler({ ctx, input }: Options) {
  const token = input?.refreshToken ?? ctx.cookies[REFRESH_COOKIE];
  if (token) await ctx.deps.refreshTokens.revokeFamilyOf(token);
  ctx.setCookies(clearedSessionCookies({ secure: ctx.secure }));
  ctx.log.info({ userId: ctx.user?.id, hadToken: Boolean(token) }, "signed out");
  return { ok: true as const };
}
