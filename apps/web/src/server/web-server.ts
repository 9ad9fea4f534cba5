import http from "node:http";
import type { Duplex } from "node:stream";
import next from "next";
import { serviceDatabaseUrls, type Config } from "@gozon/core/config";
import type { Logger } from "@gozon/core/logger";
import { bootstrapAdmin } from "@gozon/api/identity/bootstrap-admin";
import { createApiDeps } from "@gozon/api/deps";
import { createApiRequestHandler } from "@gozon/api/http";
import { Gauge, handleMetricsRequest, METRICS_PATH } from "@gozon/core/metrics";
import { createDocs } from "./docs.ts";
import { createQueueBoard } from "./queue-board.ts";
import { createReadiness } from "./readiness.ts";
import { setSecurityHeaders } from "./security-headers.ts";
import { attachWebSocket } from "./websocket.ts";

export type WebServerOptions = { config: Config; log: Logger; dir: string; dev: boolean };

/**
 * How long the start waits for the revocations' channel and list before it listens anyway (Redis or
 * Postgres down): until the list is loaded, /api/ready says `revocations: "unavailable"`.
 */
const REVOCATIONS_WAIT_MS = 5_000;

/** Dead refresh-token families are purged this often (and once at start). */
const TOKEN_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * How long a stopping server lets the requests in flight finish before it cuts the connections that
 * still carry one (the process's whole shutdown may take 10 s, and its pools must close after this).
 */
const DRAIN_MS = 5_000;

/** One process, one port: health probes and (later) the API are answered here, everything else by Next. */
export async function startWebServer({ config, log, dir, dev }: WebServerOptions) {
  if (
    (config.REDIS_URL === "embedded" && !config.REDIS_CLUSTER_NODES) ||
    config.DATABASE_URL === "embedded"
  ) {
    throw new Error("`embedded` is resolved by the launcher: start the web process with `npm start`");
  }
  const app = next({ dev, dir });
  const handleNext = app.getRequestHandler();
  await app.prepare();
  const deps = createApiDeps(config, {
    log,
    trustProxy: config.TRUST_PROXY,
    rateLimits: {
      registerPerIp: { points: config.REGISTRATIONS_PER_IP_PER_HOUR, durationSeconds: 60 * 60 },
    },
  });
  // Not ready before it knows which sessions are revoked: it would take their access tokens.
  const readiness = createReadiness(serviceDatabaseUrls(config), config, log, {
    revocations: () => deps.revokedSessions.loaded,
  });
  const admin = await bootstrapAdmin({ config, identityDb: deps.identityDb, log });
  if (admin.action !== "skipped") log.info({ email: admin.email, action: admin.action }, "bootstrap admin");
  const handleApi = createApiRequestHandler(deps);
  const queueBoard = createQueueBoard(deps);
  const docs = createDocs({ trustProxy: config.TRUST_PROXY });

  let closing = false;
  const server = http.createServer((req, res) => {
    // A keep-alive connection busy at the close would carry new requests for ever: each one answered
    // once the close began ends its connection.
    if (closing) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    setSecurityHeaders(req, res, path, {
      trustProxy: config.TRUST_PROXY,
      // Swagger UI and Bull Board are pages with policies of their own.
      ownCspPaths: (p) => docs.matches(p) || queueBoard.matches(p),
    });
    if (path === "/api/health") return sendJson(res, 200, { status: "ok" });
    if (path === METRICS_PATH) {
      return void handleMetricsRequest(deps.metrics.registry, req, res, config.METRICS_TOKEN).catch(
        (err: unknown) => {
          log.error({ err }, "metrics scrape failed");
          if (!res.headersSent)
            sendJson(res, 500, { error: { code: "INTERNAL_SERVER_ERROR", message: "Internal error" } });
        },
      );
    }
    if (path === "/api/ready") {
      return void readiness.report().then((report) => {
        sendJson(res, report.ready ? 200 : 503, {
          status: report.ready ? "ready" : "unavailable",
          ...report,
        });
      });
    }
    if (queueBoard.matches(path)) return queueBoard.handle(req, res);
    if (docs.matches(path)) return docs.handle(req, res, path);
    handleApi(req, res)
      .then((handled) => (handled ? undefined : handleNext(req, res)))
      .catch((err: unknown) => {
        log.error({ err, path }, "request failed");
        if (!res.headersSent)
          sendJson(res, 500, { error: { code: "INTERNAL_SERVER_ERROR", message: "Internal error" } });
      });
  });

  server.on("clientError", answerClientError);
  const websocket = attachWebSocket(server, deps);
  new Gauge({
    name: "gozon_websocket_clients",
    help: "Open WebSocket connections on this web instance",
    registers: [deps.metrics.registry],
    collect() {
      this.set(websocket.clients);
    },
  });

  let waited: NodeJS.Timeout | undefined;
  await Promise.race([
    websocket.ready.catch(() => undefined),
    new Promise((resolve) => (waited = setTimeout(resolve, REVOCATIONS_WAIT_MS))),
  ]);
  clearTimeout(waited);
  if (!deps.revokedSessions.loaded) log.warn("listening before the revoked sessions are loaded; not ready");

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  log.info({ port, dev }, `web ready on http://localhost:${port}`);

  let purging: Promise<void> | undefined;
  const purgeTokens = () => {
    purging ??= deps.refreshTokens
      .purge()
      .then((purged) => {
        if (purged > 0) log.info({ purged }, "purged dead refresh tokens");
      })
      .catch((err: unknown) => log.warn({ err }, "refresh token purge failed; retrying next time"))
      .finally(() => (purging = undefined));
  };
  purgeTokens();
  // unref: the timer alone never keeps a stopping process alive.
  const purgeTimer = setInterval(purgeTokens, TOKEN_PURGE_INTERVAL_MS).unref();

  return {
    port,
    async close() {
      clearInterval(purgeTimer);
      // No new request from here on, while the sockets and the requests in flight finish.
      closing = true;
      const stopped = new Promise<void>((resolve) => {
        // Stops listening; a connection that becomes idle later (its answer began before the close)
        // is closed by the next round, and after DRAIN_MS whatever is left is cut.
        const started = Date.now();
        const rounds = setInterval(() => {
          if (Date.now() - started < DRAIN_MS) server.closeIdleConnections();
          else server.closeAllConnections();
        }, 100);
        server.close(() => {
          clearInterval(rounds);
          resolve();
        });
        server.closeIdleConnections();
      });
      await websocket.close();
      await stopped;
      await purging;
      await readiness.close();
      await queueBoard.close();
      await deps.close();
      await app.close();
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** Node's parser errors that get their own status; any other one is a malformed request (400). */
const PARSER_REFUSALS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    message: "The request line and headers together must stay under 16 KiB",
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: "The chunk extensions of the request body are too large",
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: "REQUEST_TIMEOUT",
    message: "The request did not arrive in time",
  },
};

/**
 * A request Node could not parse gets the API's JSON error instead of Node's bare status line. Like
 * Node, it answers only when nothing of a response was written on the connection yet (a keep-alive
 * connection may be mid-response), and then closes the connection: the parser cannot resume.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex) {
  const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (error.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
    const { status, code, message } = PARSER_REFUSALS[error.code ?? ""] ?? {
      status: 400,
      code: "BAD_REQUEST",
      message: "The request is not valid HTTP",
    };
    const body = JSON.stringify({ error: { code, message } });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Cache-Control: no-store\r\nConnection: close\r\n" +
        "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n" +
        "Referrer-Policy: strict-origin-when-cross-origin\r\n" +
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n\r\n" +
        body,
    );
  }
  socket.destroy();
}
