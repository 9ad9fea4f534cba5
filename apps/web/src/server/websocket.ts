// tRPC subscriptions over WebSocket, on the web process's own port.
//
// Next.js adds its own `upgrade` listener and ends upgrades for URLs that match its routes, so tRPC
// lives on a path no Next route matches, and upgrades for other paths (Next's dev HMR socket) are left
// alone for Next to take.
import type http from "node:http";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import { createContextFromUpgrade } from "@gozon/api/context";
import type { ApiDeps } from "@gozon/api/deps";
import { appRouter } from "@gozon/api/root";
import { reportError } from "@gozon/api/trpc";

export const WS_PATH = "/api/trpc-ws";

export function attachWebSocket(server: http.Server, deps: ApiDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: ({ req, info }) =>
      createContextFromUpgrade(deps, req, info.connectionParams as Record<string, string> | null),
    onError: ({ error, path }) => reportError(deps.log, { error, path }),
    // Pings keep idle connections alive through proxies and detect dead peers.
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
  });

  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== WS_PATH) return;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  return {
    get clients() {
      return wss.clients.size;
    },
    /** Asks clients to reconnect (to another instance), then closes every socket. */
    async close() {
      handler.broadcastReconnectNotification();
      for (const client of wss.clients) client.close(1001, "server shutting down");
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
