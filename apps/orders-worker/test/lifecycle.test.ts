import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, startProcess } from "@gozon/core/testing";
import { createTestDatabases } from "@gozon/db/testing";
import { createRedisConnection } from "@gozon/messaging/queues";
import { deleteKeysWithPrefix, uniqueRedisPrefix } from "@gozon/messaging/testing";

const METRICS = [
  "gozon_outbox_backlog",
  "gozon_outbox_oldest_age_seconds",
  "gozon_queue_jobs",
  "gozon_orders_settled_total",
  "gozon_order_settle_latency_seconds",
  "gozon_reconciler_rerequests_total",
];

const workerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let dbs: Awaited<ReturnType<typeof createTestDatabases>>;
const redisPrefix = uniqueRedisPrefix("orders-worker");

beforeAll(async () => {
  dbs = await createTestDatabases("orders-worker");
});
afterAll(async () => {
  await dbs?.drop();
  const redis = createRedisConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  await deleteKeysWithPrefix(redis, redisPrefix);
  redis.disconnect();
});

const start = (env: Record<string, string> = {}) =>
  startProcess("node", ["--import", "tsx", "src/main.ts"], {
    cwd: workerDir,
    env: {
      ...process.env,
      ORDERS_DATABASE_URL: dbs.urls.orders,
      PAYMENTS_DATABASE_URL: dbs.urls.payments,
      IDENTITY_DATABASE_URL: dbs.urls.identity,
      REDIS_PREFIX: redisPrefix,
      ...env,
    },
  });

it.each(["SIGTERM", "SIGINT"] as const)("connects, reports ready and stops cleanly on %s", async (signal) => {
  const worker = start();
  await worker.waitForOutput(/orders worker ready/);
  expect(await worker.stop(signal)).toBe(0);
  expect(worker.output()).toContain('"msg":"stopped"');
});

it("refuses to start when its database is unreachable, and says so", async () => {
  const port = await freePort();
  const worker = start({ ORDERS_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nowhere` });
  expect(await worker.exited).toBe(1);
  expect(worker.output()).toContain("failed to start");
});

it("serves Prometheus metrics at /api/metrics", async () => {
  const port = await freePort();
  const worker = start({ METRICS_PORT: String(port) });
  await worker.waitForOutput(/orders worker ready/);
  const res = await fetch(`http://127.0.0.1:${port}/api/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  for (const name of METRICS) expect(text).toContain(name);
  expect(await worker.stop("SIGTERM")).toBe(0);
});
