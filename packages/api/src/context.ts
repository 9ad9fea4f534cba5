import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@gozon/core/logger";
import { ACCESS_COOKIE, parseCookies } from "./cookies.ts";
import type { ApiDeps } from "./deps.ts";
import type { Caller } from "./identity/tokens.ts";
import { createSocketBudget, type Drained, type SocketBudget } from "./live/socket-budget.ts";

export type { Caller };

export type Context = {
  deps: ApiDeps;
  /** The process logger with this request's id bound. */
  log: Logger;
  requestId: string;
  /** The signed-in caller, or null when anonymous. */
  user: Caller | null;
  /**
   * Why a presented token was not accepted: an expired token means "refresh", an invalid one "sign in",
   * a revoked one (its session was signed out) "refresh", which then fails and leads to the sign-in.
   */
  authProblem: "expired" | "invalid" | "revoked" | null;
  /** The signed-in caller's session: its refresh-token family (`sid`), and when its access token expires. */
  session: { id: string; expiresAt: Date } | null;
  /** How the call arrived: a WebSocket carries subscriptions only. */
  transport: "http" | "websocket";
  /** What the WebSocket this context belongs to may still start (null over HTTP). */
  socket: SocketBudget | null;
  ip: string;
  /** The request came over HTTPS (directly or through a proxy saying so): cookies get `Secure`. */
  secure: boolean;
  cookies: Record<string, string | undefined>;
  /**
   * A request header, any letter case (on a WebSocket: of the upgrade request). A header sent on several
   * lines comes joined with ", ", as Node.js joins it: see `headerLines` for one that must come once.
   */
  header: (name: string) => string | undefined;
  /** How many lines the request gave a header (0 when absent); known apart only from a Node.js request. */
  headerLines: (name: string) => number;
  /** Adds `Set-Cookie` headers to the response; a no-op where there is no response (WebSocket). */
  setCookies: (values: string[]) => void;
};

export type HeaderSource = IncomingHttpHeaders | Headers;

export type ContextOptions = {
  /** tRPC WebSocket connection params; `{ token }` carries an access token. */
  connectionParams?: Record<string, string> | null;
  /** The socket's address (`req.socket.remoteAddress`). */
  remoteAddress?: string;
  /** The connection is TLS-encrypted end to end. */
  encrypted?: boolean;
  setCookies?: (values: string[]) => void;
  /** Each header's lines apart (`req.headersDistinct`): what `headers` joined. */
  distinctHeaders?: NodeJS.Dict<string[]>;
  /** Use this id instead of the request's `X-Request-Id` or a fresh one. */
  requestId?: string;
  transport?: Context["transport"];
  /** The WebSocket's room for more (see socket-budget.ts); only for `transport: "websocket"`. */
  drained?: Drained;
};

function headerGetter(headers: HeaderSource) {
  if (headers instanceof Headers) return (name: string) => headers.get(name) ?? undefined;
  return (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `X-Request-Id` when it is a sane token, else a fresh UUID. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

function clientIp(
  header: (name: string) => string | undefined,
  remoteAddress: string | undefined,
  trustProxy: boolean,
) {
  // Behind a trusted proxy the last hop it appended is the client as the proxy saw it.
  const forwarded = trustProxy ? header("x-forwarded-for")?.split(",").at(-1)?.trim() : undefined;
  const ip = forwarded || remoteAddress || "unknown";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

function bearerToken(authorization: string | undefined): string | null | undefined {
  // Another scheme is not ours (a gateway's Basic credentials, which the browser adds by itself to every
  // request): the cookie signs the request in, as without the header.
  if (authorization === undefined || !/^Bearer(\s|$)/i.test(authorization)) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1] ?? null;
}

/**
 * Identifies the caller from request headers: `Authorization: Bearer <jwt>` first, then a `token` in
 * WebSocket connection params, then the access-token cookie. Works for HTTP requests and WebSocket
 * upgrades alike; a bad, expired or revoked token leaves the caller anonymous with `authProblem` set.
 */
export async function createContextFromHeaders(
  deps: ApiDeps,
  headers: HeaderSource,
  options: ContextOptions = {},
): Promise<Context> {
  const header = headerGetter(headers);
  const requestId = options.requestId ?? requestIdOf(header("x-request-id"));
  const cookies = parseCookies(header("cookie"));
  const forwardedProto = header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();

  const bearer = bearerToken(header("authorization"));
  const paramToken = options.connectionParams?.token;
  const token =
    bearer !== undefined
      ? bearer
      : typeof paramToken === "string" && paramToken
        ? paramToken
        : cookies[ACCESS_COOKIE];

  let user: Caller | null = null;
  let authProblem: Context["authProblem"] = null;
  let session: Context["session"] = null;
  if (token === null) {
    authProblem = "invalid";
  } else if (token) {
    const check = await deps.accessTokens.verify(token);
    // A signed-out session's tokens stay valid JWTs until they expire: the revocations say otherwise (in
    // memory, no round trip). The one check of every transport: REST, tRPC over HTTP, the WebSocket.
    const revoked = check.ok && deps.revokedSessions.refuses(check.sessionId);
    if (revoked) {
      authProblem = "revoked";
    } else if (check.ok) {
      user = check.caller;
      session = { id: check.sessionId, expiresAt: check.expiresAt };
    } else authProblem = check.reason;
  }

  return {
    deps,
    log: deps.log.child({ reqId: requestId, ...(user ? { userId: user.id } : {}) }),
    requestId,
    user,
    authProblem,
    session,
    transport: options.transport ?? "http",
    socket: options.transport === "websocket" ? createSocketBudget({ drained: options.drained }) : null,
    ip: clientIp(header, options.remoteAddress, deps.trustProxy),
    // X-Forwarded-Proto is anyone's to send: believed only from a trusted proxy (TRUST_PROXY).
    secure: (deps.trustProxy && forwardedProto === "https") || options.encrypted === true,
    cookies,
    header: (name) => header(name.toLowerCase()),
    headerLines: (name) =>
      options.distinctHeaders?.[name.toLowerCase()]?.length ??
      (header(name.toLowerCase()) === undefined ? 0 : 1),
    setCookies: options.setCookies ?? (() => {}),
  };
}

/** The context of a Node HTTP request; cookies set by procedures go onto `res`. */
export function createContextFromNodeRequest(
  deps: ApiDeps,
  req: IncomingMessage,
  res?: ServerResponse,
  requestId?: string,
) {
  return createContextFromHeaders(deps, req.headers, {
    distinctHeaders: req.headersDistinct,
    requestId,
    remoteAddress: req.socket.remoteAddress,
    encrypted: "encrypted" in req.socket && req.socket.encrypted === true,
    setCookies: res
      ? (values) => {
          if (!res.headersSent) res.appendHeader("Set-Cookie", values);
        }
      : undefined,
  });
}

/**
 * The context of a tRPC WebSocket connection (`applyWSSHandler({ createContext })`): the cookie of the
 * upgrade request, or `{ token }` in the connection params.
 */
export function createContextFromUpgrade(
  deps: ApiDeps,
  req: IncomingMessage,
  connectionParams?: Record<string, string> | null,
  drained?: Drained,
) {
  return createContextFromHeaders(deps, req.headers, {
    connectionParams,
    drained,
    remoteAddress: req.socket.remoteAddress,
    encrypted: "encrypted" in req.socket && req.socket.encrypted === true,
    transport: "websocket",
  });
}
