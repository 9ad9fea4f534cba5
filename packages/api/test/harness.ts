// A real API server for tests: fresh databases, real Redis under a unique prefix, a node http server on
// port 0 wrapping createApiRequestHandler, and every log line and response kept for inspection.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { loadConfig } from "@gozon/core/config";
import { createTestDatabases } from "@gozon/db/testing";
import { TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import { createApiDeps, type AccountsOf, type ApiDeps } from "../src/deps.ts";
import { createApiRequestHandler } from "../src/http.ts";
import type { PasswordVerifier } from "../src/identity/passwords.ts";
import type { RateLimitSettings } from "../src/identity/rate-limit.ts";

export type Exchange = { method: string; path: string; status: number; headers: string; body: string };

export type ApiHarness = Awaited<ReturnType<typeof startApi>>;

const generous = { points: 10_000, durationSeconds: 60 };

export async function startApi(
  opts: {
    label?: string;
    rateLimits?: Partial<RateLimitSettings>;
    env?: Record<string, string>;
    accountsOf?: AccountsOf;
    verifyPassword?: PasswordVerifier;
    trustProxy?: boolean;
    /** The URL the API uses for each database (e.g. through a proxy the test can cut). */
    connectVia?: (url: string) => string;
  } = {},
) {
  const databases = await createTestDatabases(opts.label ?? "api");
  const redisPrefix = `gozon_test_api_${randomBytes(6).toString("hex")}`;
  const via = opts.connectVia ?? ((url: string) => url);
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "trace",
    IDENTITY_DATABASE_URL: via(databases.urls.identity),
    ORDERS_DATABASE_URL: via(databases.urls.orders),
    PAYMENTS_DATABASE_URL: via(databases.urls.payments),
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    REDIS_PREFIX: redisPrefix,
    JWT_SECRET: randomBytes(32).toString("hex"),
    MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
    ...opts.env,
  });

  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  // Deliberately without redaction: the test proves secrets never reach the logger at all.
  const log = pino({ name: "api-test", level: "trace" }, logStream);

  let clockOffsetMs = 0;
  const deps: ApiDeps = createApiDeps(config, {
    log,
    now: () => new Date(Date.now() + clockOffsetMs),
    rateLimits: {
      loginAttemptsPerEmailAndIp: generous,
      loginAttemptsPerIp: generous,
      loginAttemptsPerEmail: generous,
      registerPerIp: generous,
      registerPerEmail: generous,
      ...opts.rateLimits,
    },
    accountsOf: opts.accountsOf,
    verifyPassword: opts.verifyPassword,
    trustProxy: opts.trustProxy,
  });

  const handle = createApiRequestHandler(deps);
  const server = http.createServer((req, res) => {
    void handle(req, res).then((served) => {
      if (!served) {
        res.statusCode = 418;
        res.end("not an API path");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const exchanges: Exchange[] = [];

  /** fetch against the server; every response is recorded (for the secret-leak scan). */
  async function request(path: string, init: RequestInit & { json?: unknown } = {}) {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined) headers.set("content-type", "application/json");
    const response = await fetch(`${baseUrl}${path}`, {
      ...rest,
      headers,
      body: json !== undefined ? JSON.stringify(json) : rest.body,
    });
    const text = await response.text();
    const headerText = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
    exchanges.push({
      method: rest.method ?? "GET",
      path,
      status: response.status,
      headers: headerText,
      body: text,
    });
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: response.status, headers: response.headers, body: body as any, text }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  const rest = {
    register: (email: string, password: string) =>
      request("/api/v1/auth/register", { method: "POST", json: { email, password } }),
    login: (email: string, password: string, headers?: Record<string, string>) =>
      request("/api/v1/auth/login", { method: "POST", json: { email, password }, headers }),
    me: (accessToken?: string) =>
      request("/api/v1/auth/me", { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} }),
    refresh: (refreshToken: string) =>
      request("/api/v1/auth/refresh", { method: "POST", json: { refreshToken } }),
    logout: (refreshToken: string) =>
      request("/api/v1/auth/logout", { method: "POST", json: { refreshToken } }),
  };

  const bearer = (token: string | undefined, headers: Record<string, string> = {}) =>
    token ? { ...headers, authorization: `Bearer ${token}` } : headers;

  /** tRPC over HTTP, as `@trpc/client`'s httpLink sends it (no transformer, no batching). */
  const trpc = {
    mutation: (path: string, input: unknown, token?: string, headers?: Record<string, string>) =>
      request(`/api/trpc/${path}`, {
        method: "POST",
        headers: bearer(token, { "content-type": "application/json", ...headers }),
        ...(input === undefined ? {} : { json: input }),
      }),
    query: (path: string, input: unknown, token?: string) =>
      request(
        `/api/trpc/${path}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
        { headers: bearer(token) },
      ),
  };

  /** A new shopper, signed in. */
  async function shopper(tag = "shopper") {
    const response = await rest.register(uniqueEmail(tag), strongPassword());
    if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
    return { token: response.body.accessToken as string, userId: response.body.user.id as string };
  }

  /** Rows in a table of the payments or orders database (names from the unions, never from input). */
  async function countRows(
    table:
      | `payments.${"ledger_entries" | "accounts" | "idempotency_keys"}`
      | `orders.${"orders" | "outbox" | "idempotency_keys"}`,
  ) {
    const { paymentsDb: p, ordersDb: o } = deps;
    type Count = Promise<{ n: bigint }[]>;
    const counts: Record<typeof table, () => Count> = {
      "payments.ledger_entries": () => p.$queryRaw`SELECT count(*) AS n FROM ledger_entries`,
      "payments.accounts": () => p.$queryRaw`SELECT count(*) AS n FROM accounts`,
      "payments.idempotency_keys": () => p.$queryRaw`SELECT count(*) AS n FROM idempotency_keys`,
      "orders.orders": () => o.$queryRaw`SELECT count(*) AS n FROM orders`,
      "orders.outbox": () => o.$queryRaw`SELECT count(*) AS n FROM outbox`,
      "orders.idempotency_keys": () => o.$queryRaw`SELECT count(*) AS n FROM idempotency_keys`,
    };
    const [row] = await counts[table]();
    return Number(row?.n ?? 0);
  }

  async function close() {
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await deleteRedisKeys(deps, redisPrefix);
    await deps.close();
    await databases.drop();
  }

  return {
    baseUrl,
    config,
    deps,
    db: deps.identityDb,
    paymentsDb: deps.paymentsDb,
    ordersDb: deps.ordersDb,
    request,
    rest,
    trpc,
    bearer,
    shopper,
    countRows,
    /** Ledger entries, all users: every change of a balance writes one. */
    ledgerCount: () => countRows("payments.ledger_entries"),
    exchanges,
    logLines,
    redisPrefix,
    advanceClock: (ms: number) => {
      clockOffsetMs += ms;
    },
    close,
  };
}

/** Removes only this run's keys (Redis is shared: never FLUSH). */
async function deleteRedisKeys(deps: ApiDeps, prefix: string) {
  // Keys under the prefix, and those hash-tagged with it (`{prefix}:…`, e.g. the login counters).
  for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
    let cursor = "0";
    do {
      const [next, keys] = await deps.redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await deps.redis.del(...keys);
    } while (cursor !== "0");
  }
}

export const uniqueEmail = (tag = "user") => `${tag}-${randomBytes(5).toString("hex")}@example.com`;
export const strongPassword = () => `pw-${randomBytes(9).toString("base64url")}`;
