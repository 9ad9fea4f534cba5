import type { Context } from "../../context.ts";
import { sessionCookies } from "../../cookies.ts";
import { toPublicUser, type User } from "../../identity/users.ts";
import type { SessionOutput } from "./session.schema.ts";

/** Signs an access token for `user`, sets both cookies and returns the session for API clients. */
export async function sessionFor(
  ctx: Context,
  user: Pick<User, "id" | "email" | "role">,
  refresh: { token: string; expiresAt: Date; familyId: string },
): Promise<SessionOutput> {
  const access = await ctx.deps.accessTokens.sign(user, refresh.familyId);
  ctx.setCookies(
    sessionCookies(
      {
        accessToken: access.token,
        accessExpiresAt: access.expiresAt,
        refreshToken: refresh.token,
        refreshExpiresAt: refresh.expiresAt,
      },
      { secure: ctx.secure, now: ctx.deps.now() },
    ),
  );
  return {
    user: toPublicUser(user),
    accessToken: access.token,
    refreshToken: refresh.token,
    expiresIn: ctx.deps.accessTokens.ttlSeconds,
  };
}

/** A new sign-in: a new refresh-token family. */
export async function startSession(ctx: Context, user: Pick<User, "id" | "email" | "role">) {
  return sessionFor(ctx, user, await ctx.deps.refreshTokens.issue(user.id));
}
