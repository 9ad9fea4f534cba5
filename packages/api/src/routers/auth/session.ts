import type { Context } from "../../context.ts";
import { deviceCookie, sessionCookies } from "../../cookies.ts";
import { toPublicUser, type User } from "../../identity/users.ts";
import type { SessionOutput } from "./session.schema.ts";

/**
 * Whether the refresh token may go into the response body. The rule: a request from a browser page
 * (it carries `Origin` or `Sec-Fetch-Site`, which browsers add and scripts cannot remove) gets it only
 * as the HttpOnly cookie, so script injected into a page can never read a long-lived token. API
 * clients (curl, SDKs, Postman: neither header) and any request sent with `Authorization` (a client
 * managing tokens itself) get it in the body as well.
 */
export function refreshTokenInBody(ctx: Pick<Context, "header">): boolean {
  if (ctx.header("authorization") !== undefined) return true;
  return ctx.header("origin") === undefined && ctx.header("sec-fetch-site") === undefined;
}

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
    ...(refreshTokenInBody(ctx) ? { refreshToken: refresh.token } : {}),
    expiresIn: ctx.deps.accessTokens.ttlSeconds,
  };
}

/**
 * A new sign-in (login or registration): a new refresh-token family, and a new device cookie marking
 * this browser as one that has signed in as `user.email` (see `loginAttemptsPerDevice`). A refresh
 * proves no password and sets none.
 */
export async function startSession(ctx: Context, user: Pick<User, "id" | "email" | "role">) {
  const session = await sessionFor(ctx, user, await ctx.deps.refreshTokens.issue(user.id));
  const device = await ctx.deps.deviceTokens.sign(user.email);
  ctx.setCookies([deviceCookie(device, { secure: ctx.secure, now: ctx.deps.now() })]);
  return session;
}
