// Checks on API requests before any procedure runs: cross-site request forgery and request bodies.
import type { IncomingMessage } from "node:http";
import { ACCESS_COOKIE, REFRESH_COOKIE, parseCookies } from "./cookies.ts";
import { isAllowedOrigin, requestOrigin } from "./origin.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The scheme the client used: TLS on the socket, or a trusted proxy's `X-Forwarded-Proto`. */
export function requestIsHttps(req: IncomingMessage, trustProxy: boolean): boolean {
  if ("encrypted" in req.socket && req.socket.encrypted === true) return true;
  if (!trustProxy) return false;
  const forwarded = req.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  return first === "https";
}

export type CrossSiteVerdict = { ok: true } | { ok: false; status: 403 | 415; code: string; message: string };

/**
 * Cross-site request forgery: a request without `Authorization: Bearer` that changes state may come from
 * a browser carrying our cookies on another site's behalf. Bearer-token clients are never affected (a
 * page on another site cannot add that header without a CORS preflight, which we never grant).
 *
 * - When the browser says where the request comes from (`Origin`, else `Sec-Fetch-Site`), it must be
 *   one of the allowed origins (`ALLOWED_ORIGINS`, default the origin the request was sent to), or
 *   `Sec-Fetch-Site: same-origin`/`none`. Anything else is 403, whether or not it carries cookies
 *   (a forged sign-in is an attack too).
 * - A request carrying a session cookie must send its body as `application/json`: the content types a
 *   plain HTML form or a "simple" cross-origin fetch can send (form-urlencoded, multipart/form-data,
 *   text/plain) are 415, so no such request reaches a procedure even from a same-site page.
 * Requests with neither header come from non-browser clients (or very old browsers, whose cookies are
 * still SameSite=Lax): they pass.
 */
export function checkCrossSite(
  req: IncomingMessage,
  options: { allowedOrigins: readonly string[]; trustProxy: boolean },
): CrossSiteVerdict {
  if (SAFE_METHODS.has(req.method ?? "GET")) return { ok: true };
  // Only a bearer token: a browser adds `Authorization: Basic` by itself to any request to a site behind a
  // gateway that asked for it, a forged one included, and the cookies still sign that request in.
  if (/^Bearer\s/i.test(req.headers.authorization ?? "")) return { ok: true };

  const origin = req.headers.origin?.trim();
  const fetchSite = (req.headers["sec-fetch-site"] as string | undefined)?.trim().toLowerCase();
  const target = {
    header: (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    encrypted: "encrypted" in req.socket && req.socket.encrypted === true,
  };
  const own = requestOrigin(target, options.trustProxy);
  const refused = (message: string) => ({ ok: false, status: 403, code: "FORBIDDEN", message }) as const;
  if (origin !== undefined) {
    if (!isAllowedOrigin(origin, own, options.allowedOrigins)) {
      return refused(`Requests from ${origin.slice(0, 100)} are not allowed`);
    }
  } else if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") {
    return refused("Cross-site requests are not allowed");
  }

  const cookies = parseCookies(req.headers.cookie);
  if (cookies[ACCESS_COOKIE] !== undefined || cookies[REFRESH_COOKIE] !== undefined) {
    const contentType = req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    if (contentType !== "application/json") {
      return {
        ok: false,
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "A request signed in by cookie must send `Content-Type: application/json`",
      };
    }
  }
  return { ok: true };
}

/** How much of a refused body is still read (and thrown away) so the client sees the answer. */
export const MAX_DRAIN_BYTES = 8 * 1024 * 1024;
export const MAX_DRAIN_MS = 10_000;
/** After a half-close, how long the client may go on sending before the socket is destroyed. */
const LINGER_MS = 2_000;

/**
 * A response sent before the request body was read (413, an early error): the client is usually still
 * sending. Closing the socket now would make the kernel answer the unread data with a reset, and the
 * client could lose the response. Instead, like nginx's lingering close, read and discard the rest:
 * when it ends within the bounds the keep-alive connection simply goes on; past them, half-close (no
 * more responses on this connection), keep discarding for a moment, then destroy.
 */
export function drainRequest(req: IncomingMessage) {
  if (req.complete) return;
  const socket = req.socket;
  let drained = 0;
  const linger = () => {
    clearTimeout(timer);
    req.off("data", count);
    socket.on("data", () => {});
    socket.resume();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  const count = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > MAX_DRAIN_BYTES) linger();
  };
  const timer = setTimeout(linger, MAX_DRAIN_MS).unref();
  req.on("data", count);
  req.once("end", () => clearTimeout(timer));
  req.once("error", () => clearTimeout(timer));
  req.resume();
}
