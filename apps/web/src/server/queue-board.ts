// Bull Board (the BullMQ dashboard) for admins, read-only: queue depths, failed (dead-lettered) jobs and
// their errors. It changes nothing: a hand-made job on a queue is a forged message between services
// (a `PaymentSucceeded` settles an unpaid order), and retries, cleans and promotes bypass the workers'
// own retry policy. Failed messages are re-driven by the services themselves (outbox, reconciler).
import type http from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Queue } from "bullmq";
import express from "express";
import { createContextFromNodeRequest } from "@gozon/api/context";
import type { ApiDeps } from "@gozon/api/deps";
import { bullPrefix, createProducerConnection, QUEUES } from "@gozon/messaging/queues";

export const QUEUE_BOARD_PATH = "/api/admin/queues";

/**
 * Bull Board sends no policy of its own. Its page loads its scripts, styles and images from its own
 * static folder; its configuration is a JSON script block (data, not run) and its loader styles inline.
 * Its stylesheet of Google Fonts stays blocked: an admin's page need not tell Google who opens it, and
 * the board reads as well in the browser's own fonts.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join("; ");

export function createQueueBoard(deps: ApiDeps) {
  // Reads only: while Redis is away a page fails at once rather than queueing commands until it is back.
  const connection = createProducerConnection(deps.config, "web-queue-board");
  const prefix = bullPrefix(deps.config);
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection, prefix }));
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
  });

  const app = express();
  app.disable("x-powered-by");
  app.use(QUEUE_BOARD_PATH, (_req, res, next) => {
    res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    next();
  });
  // Defence in depth over readOnlyMode (which guards per queue, route by route): no request that could
  // change anything reaches the board at all.
  app.use(QUEUE_BOARD_PATH, (req, res, next) => {
    if (req.method === "GET" || req.method === "HEAD") return next();
    res.setHeader("Allow", "GET, HEAD");
    res
      .status(405)
      .json({ error: { code: "METHOD_NOT_SUPPORTED", message: "The queue board is read-only" } });
  });
  // Queue contents are internal: admins only, checked on every request.
  app.use(QUEUE_BOARD_PATH, async (req, res, next) => {
    try {
      const ctx = await createContextFromNodeRequest(deps, req);
      if (!ctx.user)
        return void res.status(401).json({ error: { code: "UNAUTHORIZED", message: "Sign in" } });
      if (ctx.user.role !== "ADMIN") {
        return void res.status(403).json({ error: { code: "FORBIDDEN", message: "Admins only" } });
      }
      next();
    } catch (err) {
      next(err);
    }
  });
  app.use(QUEUE_BOARD_PATH, serverAdapter.getRouter());

  return {
    matches: (path: string) => path === QUEUE_BOARD_PATH || path.startsWith(`${QUEUE_BOARD_PATH}/`),
    handle: (req: http.IncomingMessage, res: http.ServerResponse) =>
      app(req as express.Request, res as express.Response),
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
      connection.disconnect();
    },
  };
}
