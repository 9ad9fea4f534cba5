import { parseCookie, stringifySetCookie } from "cookie";

/** The access JWT, sent with every request (pages, tRPC, the WebSocket upgrade). */
export const ACCESS_COOKIE = "gozon_at";
/** The refresh token, sent only to the API. */
export const REFRESH_COOKIE = "gozon_rt";
const REFRESH_COOKIE_PATH = "/api";
/**
 * The device cookie: this browser has signed in before, as the email its token names. Sent only to the
 * API (`/api` covers the REST login at `/api/v1/auth/login` and tRPC's at `/api/trpc/auth.login`); it
 * signs nothing in, and it outlives a logout.
 */
export const DEVICE_COOKIE = "gozon_dev";
const DEVICE_COOKIE_PATH = "/api";

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

/** The `Set-Cookie` value of a device token: httpOnly, SameSite=Lax, Secure over HTTPS, like the session's. */
export function deviceCookie(
  device: { token: string; expiresAt: Date },
  { secure, now }: { secure: boolean; now: Date },
): string {
  return stringifySetCookie(DEVICE_COOKIE, device.token, {
    httpOnly: true,
    sameSite: "lax",
    secure,
    path: DEVICE_COOKIE_PATH,
    maxAge: secondsUntil(device.expiresAt, now),
  });
}

/** `Set-Cookie` values that remove both session cookies (not the device cookie). */
export function clearedSessionCookies({ secure }: { secure: boolean }): string[] {
  const base = { httpOnly: true, sameSite: "lax", secure, maxAge: 0, expires: new Date(0) } as const;
  return [
    stringifySetCookie(ACCESS_COOKIE, "", { ...base, path: "/" }),
    stringifySetCookie(REFRESH_COOKIE, "", { ...base, path: REFRESH_COOKIE_PATH }),
  ];
}
