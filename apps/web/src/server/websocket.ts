// tRPC subscriptions over WebSocket, on the web process's own port.
//
// Next.js adds its own `upgrade` listener and ends upgrades for URLs that match its routes, so tRPC
// lives on a path no Next route matches, and upgrades for other paths (Next's dev HMR socket) are left
// alone for Next to take.
//
// A socket is a session's: it is refused from a foreign page (Origin), carries subscriptions only (see
// publicProcedure), and is closed with SESSION_ENDED_CLOSE_CODE when its access token expires or its
// session is revoked (logout, refresh-token reuse, `revokeAllOf`) on any instance. The client then
// refreshes and reconnects, resuming each feed from its last event id. A revoked session's token opens no
// new feed either: the context of the connection refuses it (deps.revokedSessions).
import http from "node:http";
import type { Duplex } from "node:stream";
import { TRPCError } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { createContextFromUpgrade, type Context } from "@gozon/api/context";
import type { ApiDeps } from "@gozon/api/deps";
import type { SessionRevocation } from "@gozon/api/identity/session-revocations";
import { MAX_FEEDS_PER_SOCKET, type Drained } from "@gozon/api/live/socket-budget";
import { isAllowedOrigin, requestOrigin } from "@gozon/api/origin";
import { appRouter } from "@gozon/api/root";
import { reportError } from "@gozon/api/trpc";

export const WS_PATH = "/api/trpc-ws";

/**
 * "Your credentials no longer hold": the access token expired or the session was revoked. The web
 * client (apps/web/src/client/api.ts) refreshes the session before it reconnects. 4000-4999 are the
 * close codes left to applications (RFC 6455 §7.4.2).
 */
export const SESSION_ENDED_CLOSE_CODE = 4401;

/**
 * Signed-in sockets one user may hold on one instance (tabs, devices): each may hold a few feeds (see
 * socket-budget.ts), so this bounds what one account can ask of the instance. Past it the connection is
 * refused with TOO_MANY_REQUESTS as its context is made: tRPC then answers with a connection error and
 * closes the socket, and its client backs off before it tries again (a plain close would have it
 * reconnect at once, over and over).
 */
export const MAX_SOCKETS_PER_USER = 20;

/** setTimeout's longest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What one socket may cost its instance beyond its feeds (socket-budget.ts), whoever holds it.
 * - `maxBufferedBytes`: sent but not yet read by the client; past it the socket's feeds wait (a replay
 *   pauses where it is) until the client reads, and a client that reads nothing for `stallMs` is cut off,
 *   to resume from its last position when it reconnects.
 * - `frameBurst`, `framesPerSecond`: frames a client may send, in a burst and then steadily; each frame
 *   holds at most `maxBatchSize` messages. The app's client sends a frame per feed it starts or stops (a
 *   few a minute) and a pong every 30 s, so past this it is not the app: the socket is cut off.
 * - `anonymousMs`: a socket whose client is not signed in can start no feed; it is closed after this
 *   long (with SESSION_ENDED_CLOSE_CODE, so the app's client refreshes its session first).
 */
export type SocketLimits = {
  maxBufferedBytes: number;
  stallMs: number;
  frameBurst: number;
  framesPerSecond: number;
  maxBatchSize: number;
  anonymousMs: number;
};

export const SOCKET_LIMITS: SocketLimits = {
  maxBufferedBytes: 1024 * 1024,
  stallMs: 60_000,
  frameBurst: 60,
  framesPerSecond: 5,
  maxBatchSize: 2 * MAX_FEEDS_PER_SOCKET,
  anonymousMs: 10_000,
};

/** Polls a full socket's buffer: `ws` has no event for it, and only a socket with a stalled client waits. */
const DRAIN_POLL_MS = 20;
/** How long a stopping server waits for its clients to answer the close before it cuts them. */
const CLOSE_GRACE_MS = 2_000;

/**
 * How the sockets' send buffers stood, for tests and diagnostics: feeds waiting for their client to
 * read, and the most a socket had unread when one of its feeds was about to send.
 */
type BufferStats = { waiting: number; mostBuffered: number };

/** `drained` for a socket's feeds (socket-budget.ts): waits while more than the limit is unread. */
function drainedOf(ws: WebSocket, limits: SocketLimits, log: ApiDeps["log"], stats: BufferStats): Drained {
  return () => {
    stats.mostBuffered = Math.max(stats.mostBuffered, ws.bufferedAmount);
    // A closed socket's feed is being stopped (tRPC aborts it): nothing to wait for.
    if (ws.readyState !== ws.OPEN || ws.bufferedAmount <= limits.maxBufferedBytes) return null;
    const since = Date.now();
    stats.waiting++;
    return new Promise<void>((settle) => {
      const resolve = () => {
        stats.waiting--;
        settle();
      };
      const check = () => {
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount <= limits.maxBufferedBytes) return resolve();
        if (Date.now() - since >= limits.stallMs) {
          log.info({ buffered: ws.bufferedAmount }, "WebSocket cut off: its client read nothing");
          ws.terminate();
          return resolve();
        }
        setTimeout(check, DRAIN_POLL_MS);
      };
      setTimeout(check, DRAIN_POLL_MS);
    });
  };
}

/**
 * Counts a socket's frames against its budget, and cuts it off past it, or when it sends while more than
 * `maxBufferedBytes` of what it was sent is unread: every frame gets answers (errors, "started"), which a
 * client that does not read would otherwise pile up beyond its feeds' limit. The frame that crosses a
 * limit may still be handled (tRPC listens to the socket too); none after it is.
 */
function meterFrames(ws: WebSocket, limits: SocketLimits, log: ApiDeps["log"]) {
  let tokens = limits.frameBurst;
  let at = Date.now();
  ws.on("message", () => {
    const now = Date.now();
    tokens = Math.min(limits.frameBurst, tokens + ((now - at) / 1000) * limits.framesPerSecond);
    at = now;
    if (--tokens < 0) {
      log.info("WebSocket cut off: too many frames");
      ws.terminate();
    } else if (ws.bufferedAmount > limits.maxBufferedBytes) {
      log.info({ buffered: ws.bufferedAmount }, "WebSocket cut off: sends while it reads nothing");
      ws.terminate();
    }
  });
}

type SocketSession = { userId: string; sessionId: string; timer: NodeJS.Timeout };

export function attachWebSocket(server: http.Server, deps: ApiDeps, limits: SocketLimits = SOCKET_LIMITS) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const stats: BufferStats = { waiting: 0, mostBuffered: 0 };
  // Before tRPC's own listener (applyWSSHandler below), so a frame is counted before it is handled.
  // Every socket starts anonymous: tRPC makes its context only with the first message when the client
  // sends its token in one (`?connectionParams=1`), and a client that only answers pings never does.
  const anonymous = new Map<WebSocket, NodeJS.Timeout>();
  wss.on("connection", (ws) => {
    meterFrames(ws, limits, deps.log);
    const timer = setTimeout(() => ws.close(SESSION_ENDED_CLOSE_CODE, "sign in first"), limits.anonymousMs);
    anonymous.set(ws, timer);
    ws.once("close", () => {
      clearTimeout(timer);
      anonymous.delete(ws);
    });
  });
  const sessions = new Map<WebSocket, SocketSession>();
  const socketsOf = new Map<string, number>();

  const endSession = (ws: WebSocket, reason: string) => {
    const session = sessions.get(ws);
    if (session) clearTimeout(session.timer);
    sessions.delete(ws);
    ws.close(SESSION_ENDED_CLOSE_CODE, reason);
  };

  /** Arms the expiry of a signed-in socket and files it under its session, for revocations. */
  const track = (ws: WebSocket, ctx: Context) => {
    if (!ctx.user || !ctx.session || ws.readyState !== ws.OPEN) return;
    const userId = ctx.user.id;
    const held = socketsOf.get(userId) ?? 0;
    if (held >= MAX_SOCKETS_PER_USER) {
      deps.log.info({ userId }, "WebSocket refused: too many for one user");
      throw new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: `At most ${MAX_SOCKETS_PER_USER} live connections per user; close another tab first`,
      });
    }
    socketsOf.set(userId, held + 1);
    clearTimeout(anonymous.get(ws));
    anonymous.delete(ws);
    const { expiresAt } = ctx.session;
    const arm = (): NodeJS.Timeout => {
      const left = expiresAt.getTime() - deps.now().getTime();
      if (left <= 0) return setTimeout(() => endSession(ws, "access token expired"), 0);
      return setTimeout(
        () => {
          const session = sessions.get(ws);
          if (session) session.timer = arm();
        },
        Math.min(left, MAX_TIMER_MS),
      );
    };
    sessions.set(ws, { userId, sessionId: ctx.session.id, timer: arm() });
    ws.once("close", () => {
      clearTimeout(sessions.get(ws)?.timer);
      sessions.delete(ws);
      const left = (socketsOf.get(userId) ?? 1) - 1;
      if (left > 0) socketsOf.set(userId, left);
      else socketsOf.delete(userId);
    });
  };

  const revoked = ({ sessionId }: SessionRevocation) => {
    for (const [ws, session] of sessions) {
      if (session.sessionId === sessionId) endSession(ws, "session revoked");
    }
  };
  const stopHearing = deps.revokedSessions.onRevoked(revoked);

  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: async ({ req, res, info }) => {
      const ctx = await createContextFromUpgrade(
        deps,
        req,
        info.connectionParams as Record<string, string> | null,
        drainedOf(res, limits, deps.log, stats),
      );
      track(res, ctx);
      return ctx;
    },
    onError: ({ error, path }) => reportError(deps.log, { error, path }),
    maxBatchSize: limits.maxBatchSize,
    // Pings keep idle connections alive through proxies and detect dead peers.
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
  });

  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== WS_PATH) return;
    // Cross-site WebSocket hijacking: a browser sends the victim's cookies with an upgrade from any
    // page, but always says which page in `Origin`. A client without Origin is not a browser page.
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req, deps)) {
      deps.log.info({ origin }, "WebSocket upgrade from a foreign origin refused");
      return refuseUpgrade(socket, 403, "FORBIDDEN", "This origin may not open the WebSocket");
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  return {
    /** Resolves once this instance hears session revocations and has read those still in force. */
    ready: deps.revokedSessions.ready,
    get clients() {
      return wss.clients.size;
    },
    /** Feeds waiting for their socket's client to read, and the most any socket had unread so far. */
    get buffers(): Readonly<BufferStats> {
      return { ...stats };
    },
    /** Asks clients to reconnect (to another instance), then closes every socket. */
    async close() {
      stopHearing();
      for (const session of sessions.values()) clearTimeout(session.timer);
      handler.broadcastReconnectNotification();
      for (const client of wss.clients) client.close(1001, "server shutting down");
      // A client that never answers the close would hold the shutdown for ws's 30 s: cut it after 2 s.
      const cut = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, CLOSE_GRACE_MS).unref();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}

function originAllowed(origin: string, req: http.IncomingMessage, deps: ApiDeps) {
  const target = {
    header: (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    encrypted: "encrypted" in req.socket && req.socket.encrypted === true,
  };
  return isAllowedOrigin(origin, requestOrigin(target, deps.trustProxy), deps.config.ALLOWED_ORIGINS);
}

/** Answers an upgrade with a JSON error instead of switching protocols, and ends the connection. */
function refuseUpgrade(socket: Duplex, status: number, code: string, message: string) {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n" +
      body,
  );
}
