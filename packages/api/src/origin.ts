// Which browser origins may use the API: the WebSocket upgrade (cross-site WebSocket hijacking) and
// cookie-authenticated mutations (CSRF) both ask `isAllowedOrigin`. A browser always sends `Origin` on
// these requests, and a page cannot forge it; a request without one does not come from a page.

/** What of the request tells where it was addressed: a header getter and whether the socket is TLS. */
export type RequestTarget = {
  header: (name: string) => string | undefined;
  encrypted: boolean;
};

/**
 * The origin the request was addressed to (`scheme://host[:port]`), or null without a usable Host.
 * `X-Forwarded-Host` / `X-Forwarded-Proto` count only behind a trusted proxy: anyone else can send them.
 */
export function requestOrigin({ header, encrypted }: RequestTarget, trustProxy: boolean): string | null {
  const first = (value: string | undefined) => value?.split(",")[0]?.trim() || undefined;
  const forwardedProto = trustProxy ? first(header("x-forwarded-proto"))?.toLowerCase() : undefined;
  const scheme = forwardedProto === "https" || forwardedProto === "http" ? forwardedProto : undefined;
  const host = (trustProxy ? first(header("x-forwarded-host")) : undefined) ?? header("host");
  if (!host) return null;
  return normalizeOrigin(`${scheme ?? (encrypted ? "https" : "http")}://${host}`);
}

/**
 * Whether a page at `origin` may talk to the app: one of `allowedOrigins` when that list is set
 * (ALLOWED_ORIGINS), else only the origin the request itself was addressed to (`ownOrigin`).
 * `Origin: null` (sandboxed frames, file: pages) and anything unparsable are refused.
 */
export function isAllowedOrigin(
  origin: string,
  ownOrigin: string | null,
  allowedOrigins: readonly string[],
): boolean {
  const normalized = normalizeOrigin(origin);
  if (!normalized) return false;
  if (allowedOrigins.length > 0) return allowedOrigins.includes(normalized);
  return normalized === ownOrigin;
}

/** `scheme://host[:port]` with the host lower-cased and a default port dropped; null if not an http(s) origin. */
function normalizeOrigin(value: string): string | null {
  if (!URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.origin;
}
