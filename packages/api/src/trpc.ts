import { TRPCError, initTRPC } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import type { Logger } from "@gozon/core/logger";
import type { Context } from "./context.ts";
import { findUserById } from "./identity/users.ts";
import { MAX_FEEDS_PER_SOCKET, pacedFeed } from "./live/socket-budget.ts";
import {
  describeFields,
  fieldErrorsOf,
  isDatabaseUnavailable,
  retryAfterSecondsOf,
  serviceUnavailable,
  tooManyRequests,
  type FieldErrors,
} from "./errors.ts";

/** Procedure metadata: the REST route (trpc-to-openapi) and the REST status of a success. */
export type ApiMeta = OpenApiMeta<{ successStatus?: number }>;

/** `error.data` of every error response. Never a stack, SQL or an internal message. */
export type ApiErrorData = {
  code: TRPCError["code"];
  httpStatus: number;
  path?: string;
  requestId?: string;
  /** Input validation: the field at fault → what is wrong with it. */
  fields?: FieldErrors;
  /** Rate limiting, an unavailable database: seconds until a retry may succeed (also `Retry-After`). */
  retryAfterSeconds?: number;
};

export const INTERNAL_MESSAGE = "Internal server error";
export const SUBSCRIPTION_OVER_HTTP_MESSAGE =
  "Subscriptions are served over the WebSocket only (/api/trpc-ws), not over HTTP";
export const JSON_ONLY_MESSAGE = "Send the body as JSON with `Content-Type: application/json`";

/** Whether a SyntaxError is among the error's causes (tRPC wraps the parser's in one or two errors). */
function causedBySyntaxError(error: Error): boolean {
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    if (cause instanceof SyntaxError) return true;
    cause = cause.cause;
  }
  return false;
}

const t = initTRPC
  .context<Context>()
  .meta<ApiMeta>()
  .create({
    // No event streams over HTTP: see publicProcedure.
    sse: { enabled: false },
    errorFormatter({ shape, error, ctx }) {
      // A body or frame that is not JSON arrives as PARSE_ERROR or BAD_REQUEST caused by a SyntaxError. A
      // PARSE_ERROR for anything else is JSON of the wrong shape (a WebSocket message without its `id`, a
      // connection's params that are not strings): tRPC's own words say what is wrong with it.
      const badJson =
        (error.code === "PARSE_ERROR" || error.code === "BAD_REQUEST") && causedBySyntaxError(error);
      const malformed = error.code === "PARSE_ERROR" && !badJson;
      const fields = badJson ? { body: "is not valid JSON" } : fieldErrorsOf(error);
      const retryAfterSeconds = retryAfterSecondsOf(error);
      const message = badJson
        ? "The request body is not valid JSON"
        : malformed
          ? `Malformed message: ${error.message}`
          : fields && error.code === "BAD_REQUEST"
            ? `Invalid input: ${describeFields(fields)}`
            : error.code === "INTERNAL_SERVER_ERROR"
              ? INTERNAL_MESSAGE
              : error.code === "UNSUPPORTED_MEDIA_TYPE"
                ? JSON_ONLY_MESSAGE
                : error.message;
      const data: ApiErrorData = {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        ...(shape.data.path ? { path: shape.data.path } : {}),
        ...(ctx?.requestId ? { requestId: ctx.requestId } : {}),
        ...(fields ? { fields } : {}),
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      };
      return { code: shape.code, message, data };
    },
  });

/**
 * Logs a procedure error: internal ones in full (for the operator, never the client), expected ones
 * briefly. Inputs are never logged: they may hold passwords.
 */
export function reportError(log: Logger, { error, path }: { error: TRPCError; path?: string }) {
  if (error.code === "INTERNAL_SERVER_ERROR") {
    const cause = error.cause ?? error;
    log.error({ path, err: cause }, "procedure failed");
  } else if (error.code === "SERVICE_UNAVAILABLE") {
    log.warn({ path, err: error.cause?.cause ?? error.cause }, "database unavailable");
  } else {
    log.debug({ path, code: error.code, message: error.message }, "procedure refused the request");
  }
}

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

/**
 * Anyone, signed in or not. Every procedure derives from this one, so here a database that is down or
 * overloaded becomes a 503 the client may retry (over REST and tRPC alike) instead of a 500.
 */
export const publicProcedure = t.procedure.use(async ({ ctx, type, next }) => {
  // The WebSocket serves live feeds only: a query or mutation there would escape the HTTP defences
  // (rate limits per request, CSRF checks, body limits). Refused before the input is even parsed.
  if (ctx.transport === "websocket" && type !== "subscription") {
    throw new TRPCError({
      code: "METHOD_NOT_SUPPORTED",
      message: "Only subscriptions are served over the WebSocket; send queries and mutations over HTTP",
    });
  }
  // And live feeds over the WebSocket only: there the end of a session (the access token's expiry, a
  // sign-out, a revoked refresh token) closes the socket, and the socket's budget bounds its feeds. An
  // event stream over HTTP would have neither, a stolen token reading every order for as long as the
  // stream stays open. The HTTP handler refuses them by path first; this holds however a path is spelled.
  if (type === "subscription" && ctx.transport !== "websocket") {
    throw new TRPCError({ code: "METHOD_NOT_SUPPORTED", message: SUBSCRIPTION_OVER_HTTP_MESSAGE });
  }
  const result = await next();
  if (!result.ok && isDatabaseUnavailable(result.error)) throw serviceUnavailable(result.error.cause);
  return result;
});

/** Signed-in callers only; anonymous → UNAUTHORIZED (401). */
export const protectedProcedure = publicProcedure.use(async ({ ctx, type, signal, next }) => {
  if (!ctx.user) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        ctx.authProblem === "expired"
          ? "The access token has expired; refresh it"
          : ctx.authProblem === "invalid"
            ? "The access token is invalid; sign in again"
            : ctx.authProblem === "revoked"
              ? "This session has been signed out; sign in again"
              : "Sign in first",
    });
  }
  if (type !== "subscription") return next({ ctx: { ...ctx, user: ctx.user } });
  // A subscription outlives its token's claims: it starts with the role the user has now (a demoted
  // admin loses the admin feed at once), and a deleted user gets nothing. A socket's context is made
  // when it connects: a session revoked since then may not start a feed on it (the socket is closing).
  if (ctx.session && ctx.deps.revokedSessions.refuses(ctx.session.id)) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "This session has been signed out; sign in again" });
  }
  // Before any read: a socket past its share is refused at no cost to the database.
  const slot = ctx.socket?.take(Date.now());
  if (slot && !slot.ok) {
    if (slot.retryAfterMs !== null) throw tooManyRequests(slot.retryAfterMs, "live feeds started");
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: `At most ${MAX_FEEDS_PER_SOCKET} live feeds per connection; stop one first`,
    });
  }
  // The slot is given back when the feed ends: stopped or failed (tRPC aborts the signal), or done.
  const release = slot?.release ?? (() => {});
  signal?.addEventListener("abort", release, { once: true });
  try {
    const current = await findUserById(ctx.deps.identityDb, ctx.user.id);
    if (!current) throw new TRPCError({ code: "UNAUTHORIZED", message: "This account no longer exists" });
    const result = await next({ ctx: { ...ctx, user: { id: current.id, role: current.role } } });
    if (!result.ok || !slot) {
      release();
      return result;
    }
    const feed = result.data as AsyncIterable<unknown>;
    return { ...result, data: pacedFeed(feed, release, ctx.socket?.drained) };
  } catch (error) {
    release();
    throw error;
  }
});

/** Admins only; a shopper → FORBIDDEN (403). */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "ADMIN") {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only an admin may do this" });
  }
  return next({ ctx });
});
