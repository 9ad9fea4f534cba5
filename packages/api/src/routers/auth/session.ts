import type { Context } from "../../context.ts";
import { deviceCookie, sessionCookies } from "../../cookies.ts";
import { toPublicUser, type User } from "../../identity/users.ts";
import type { SessionOutput } from "./session.schema.ts";

/** Where the refresh token a request spent came from; none for a new sign-in. */
export type SpentFrom = "body" | "cookie";

/**
 * Whether the refresh token may go into the response body. The rule: a browser page never gets it there,
 * so script injected into a page can never read a long-lived token. A request from a page carries
 * `Origin` or `Sec-Fetch-Site`, which browsers add and scripts cannot remove; API clients (curl, SDKs,
 * Postman) send neither. An `Authorization` header proves nothing (a page's script can add one, and a
 * browser adds a gateway's Basic credentials by itself). A refresh that spent a token sent in the body
 * comes from a client that holds its tokens itself, so it gets the next one there too.
 */
export function refreshTokenInBody(ctx: Pick<Context, "header">, spent?: SpentFrom): boolean {
  if (spent === "body") return true;
  return ctx.header("origin") === undefined && ctx.header("sec-fetch-site") === undefined;
}

/** Signs an access token for `user`, sets both cookies and returns the session for API clients. */
export async function sessionFor(
  ctx: Context,
  user: Pick<User, "id" | "email" | "role">,
  refresh: { token: string; expiresAt: Date; familyId: string },
  spent?: SpentFrom,
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
    ...(refreshTokenInBody(ctx, spent) ? { refreshToken: refresh.token } : {}),
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
