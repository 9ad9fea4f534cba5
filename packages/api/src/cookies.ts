import { parseCookie, stringifySetCookie } from "cookie";

/** The access JWT, sent with every request (pages, tRPC, the WebSocket upgrade). */
export const ACCESS_COOKIE = "gozon_at";
/** The refresh token, sent only to the API. */
export const REFRESH_COOKIE = "gozon_rt";
const REFRESH_COOKIE_PATH = "/api";

export function parseCookies(header: string | undefined): Record<string, string | undefined> {
  if (!header) return {};
  try {
    return parseCookie(header);
  } catch {
    return {};
  }
}

type Session = {
  accessToken: string;
  accessExpiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
};

const secondsUntil = (when: Date, now: Date) =>
  Math.max(0, Math.floor((when.getTime() - now.getTime()) / 1000));

/** `Set-Cookie` values that hand a session to the browser: httpOnly, SameSite=Lax, Secure over HTTPS. */
export function sessionCookies(session: Session, { secure, now }: { secure: boolean; now: Date }): string[] {
  const base = { httpOnly: true, sameSite: "lax", secure } as const;
  return [
    stringifySetCookie(ACCESS_COOKIE, session.accessToken, {
      ...base,
      path: "/",
      maxAge: secondsUntil(session.accessExpiresAt, now),
    }),
    stringifySetCookie(REFRESH_COOKIE, session.refreshToken, {
      ...base,
      path: REFRESH_COOKIE_PATH,
      maxAge: secondsUntil(session.refreshExpiresAt, now),
    }),
  ];
}

/** `Set-Cookie` values that remove both session cookies. */
export function clearedSessionCookies({ secure }: { secure: boolean }): string[] {
  const base = { httpOnly: true, sameSite: "lax", secure, maxAge: 0, expires: new Date(0) } as const;
  return [
    stringifySetCookie(ACCESS_COOKIE, "", { ...base, path: "/" }),
    stringifySetCookie(REFRESH_COOKIE, "", { ...base, path: REFRESH_COOKIE_PATH }),
  ];
}
