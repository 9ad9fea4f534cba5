// Headers every response of the web process carries (pages, API, docs, health, metrics). Pages get
// their nonce-based Content-Security-Policy from proxy.ts; Swagger UI its own from docs.ts.
import type http from "node:http";
import { requestIsHttps } from "@gozon/api/request-guards";

/** JSON and other non-HTML answers: nothing may load, run or frame them. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** A year; a browser that saw it over HTTPS never tries plain HTTP on this host again. */
const HSTS = "max-age=31536000; includeSubDomains";

/** Paths rendered by Next.js, whose CSP (with the nonce of the page) comes from proxy.ts. */
const isNextPath = (path: string) => !path.startsWith("/api/") && path !== "/api";

export function setSecurityHeaders(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  { trustProxy, ownCspPaths }: { trustProxy: boolean; ownCspPaths: (path: string) => boolean },
) {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "strict-origin-when-cross-origin");
  res.setHeader("X-Frame-Options", "DENY");
  // Only over HTTPS (on the socket, or said by a trusted proxy): over plain HTTP it is ignored anyway,
  // and a forged X-Forwarded-Proto must not make us claim it.
  if (requestIsHttps(req, trustProxy)) res.setHeader("Strict-Transport-Security", HSTS);
  if (!isNextPath(path) && !ownCspPaths(path)) res.setHeader("Content-Security-Policy", API_CSP);
}
