// Web instances in the test process, without Next: the API handler, the tRPC WebSocket and the queue
// board on a node http server each, over fresh databases and real Redis under a unique prefix. Several
// instances share them as the deployed ones do (Redis pub/sub is the only link between them).
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket from "ws";
import { loadConfig } from "@gozon/core/config";
import { createLogger } from "@gozon/core/logger";
import { createApiDeps } from "@gozon/api/deps";
import { createApiRequestHandler } from "@gozon/api/http";
import { createUser, type Role } from "@gozon/api/identity/users";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { deleteKeysAt, TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import { startPositionAssigner } from "@gozon/orders/position-assigner";
import { createQueueBoard } from "../src/server/queue-board.ts";
import { attachWebSocket, SOCKET_LIMITS, WS_PATH, type SocketLimits } from "../src/server/websocket.ts";

export type WebInstance = Awaited<ReturnType<typeof startInstance>>;

type InstanceOptions = {
  env?: Record<string, string>;
  accessTokenTtlSeconds?: number;
  socketLimits?: Partial<SocketLimits>;
};

async function startInstance(dbs: TestDatabases, redisPrefix: string, opts: InstanceOptions) {
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    IDENTITY_DATABASE_URL: dbs.urls.identity,
    ORDERS_DATABASE_URL: dbs.urls.orders,
    PAYMENTS_DATABASE_URL: dbs.urls.payments,
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    REDIS_PREFIX: redisPrefix,
    JWT_SECRET: `test-secret-${"x".repeat(32)}`,
    MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
    ...opts.env,
  });
  const generous = { points: 10_000, durationSeconds: 60 };
  const deps = createApiDeps(config, {
    log: createLogger("web-test", "silent"),
    trustProxy: config.TRUST_PROXY,
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds,
    rateLimits: {
      loginAttemptsPerEmailAndIp: generous,
      loginAttemptsPerIp: generous,
      loginAttemptsPerEmail: generous,
      registerPerIp: generous,
      registerPerEmail: generous,
    },
  });
  const handleApi = createApiRequestHandler(deps);
  const board = createQueueBoard(deps);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (board.matches(path)) return board.handle(req, res);
    void handleApi(req, res).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  const websocket = attachWebSocket(server, deps, { ...SOCKET_LIMITS, ...opts.socketLimits });
  await websocket.ready;
  // The tests' fetch reuses idle connections; on a loaded machine its timers run late and it could take
  // one the server had just closed after its 5 s (ECONNRESET). Tests never need that close.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any, headers: res.headers }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  return {
    base,
    wsUrl: `${base.replace(/^http/, "ws")}${WS_PATH}`,
    deps,
    config,
    post,
    get: async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      return { status: res.status, body: (await res.json().catch(() => null)) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    },
    /** Signs in over REST: the body's tokens and the cookies a browser would keep. */
    async login(email: string, password: string) {
      const res = await post("/api/v1/auth/login", { email, password });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return {
        accessToken: res.body.accessToken as string,
        refreshToken: res.body.refreshToken as string,
        userId: res.body.user.id as string,
        cookies: res.headers.getSetCookie(),
      };
    },
    websocketClients: () => websocket.clients,
    websocketBuffers: () => websocket.buffers,
    async close() {
      await websocket.close();
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await board.close();
      await deps.close();
    },
  };
}

/** `count` instances over one set of databases and one Redis prefix; `close()` removes all of it. */
export async function startInstances(count: number, opts: InstanceOptions = {}) {
  const dbs = await createTestDatabases("web_ws");
  const redisPrefix = `test-web-ws-${randomBytes(4).toString("hex")}`;
  const instances: WebInstance[] = [];
  for (let i = 0; i < count; i++) instances.push(await startInstance(dbs, redisPrefix, opts));
  const first = instances[0] as WebInstance;
  // What the orders worker does in a deployment: stamp the order changes' positions and announce them.
  const assigner = startPositionAssigner({
    db: first.deps.ordersDb,
    databaseUrl: dbs.urls.orders,
    publisher: first.deps.redis,
    redisPrefix,
    signingKey: first.deps.signingKey,
    log: createLogger("web-test-assigner", "silent"),
    pollMs: 500,
  });
  return {
    instances,
    redisPrefix,
    /** One more instance over the same databases and Redis prefix, started now; closed with the rest. */
    async addInstance() {
      const instance = await startInstance(dbs, redisPrefix, opts);
      instances.push(instance);
      return instance;
    },
    /** A user created straight in the identity database (any role), with its password. */
    async user(role: Role = "SHOPPER") {
      const email = `ws-${randomBytes(5).toString("hex")}@shop.test`;
      const password = `pw-${randomBytes(9).toString("base64url")}`;
      const user = await createUser(first.deps.identityDb, { email, password, role });
      return { id: user.id, email, password };
    },
    async close() {
      await assigner.stop();
      await Promise.all(instances.map((instance) => instance.close()));
      await deleteKeysAt(first.deps.config, redisPrefix);
      await dbs.drop();
    },
  };
}

/** A raw tRPC WebSocket: the upgrade's outcome, every frame received, and the close code. */
export function rawSocket(
  url: string,
  opts: { origin?: string; token?: string; headers?: Record<string, string> } = {},
) {
  const ws = new WebSocket(opts.token ? `${url}?connectionParams=1` : url, {
    headers: opts.headers,
    ...(opts.origin ? { origin: opts.origin } : {}),
  });
  const frames: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let closed: { code: number; reason: string } | null = null;
  ws.on("message", (data) => {
    const text = String(data);
    frames.push(text === "PING" || text === "PONG" ? text : JSON.parse(text));
  });
  ws.on("close", (code, reason) => (closed = { code, reason: String(reason) }));
  const opened = new Promise<{ ok: true } | { ok: false; status: number; body: string }>((resolve) => {
    ws.once("open", () => {
      if (opts.token) ws.send(JSON.stringify({ method: "connectionParams", data: { token: opts.token } }));
      resolve({ ok: true });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    ws.once("error", () => undefined);
  });
  return {
    ws,
    opened,
    frames,
    closed: () => closed,
    send: (message: unknown) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    /** The frames answering request `id`. */
    replies: (id: number | string) => frames.filter((frame) => typeof frame === "object" && frame?.id === id),
    subscribe(id: number, path: string, input?: unknown) {
      ws.send(JSON.stringify({ id, method: "subscription", params: { path, input } }));
    },
    close: () => ws.close(),
  };
}
