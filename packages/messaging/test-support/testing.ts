// Helpers for tests that share one Redis: each run uses its own key prefix and removes only its own keys.
import { randomBytes, randomUUID } from "node:crypto";
import {
  createRedisClient,
  isCluster,
  masters,
  type RedisClient,
  type RedisTarget,
} from "@gozon/core/infra/redis-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, startProcess, startTcpProxy } from "@gozon/core/testing";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { messageKey } from "../src/signing.ts";

/**
 * The MESSAGE_SIGNING_KEY of this test run: random, so a process a harness starts without it (which would
 * fall back to the development key) fails to talk to the test instead of passing by luck. Harnesses pass
 * it to their children beside JWT_SECRET; tests sign and check what they put on Redis with
 * `testSigningKey`.
 */
export const TEST_MESSAGE_SIGNING_KEY = randomBytes(32).toString("hex");
export const testSigningKey = messageKey(TEST_MESSAGE_SIGNING_KEY);

/** A REDIS_PREFIX no other run uses. */
export function uniqueRedisPrefix(label: string) {
  return `test-${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * Deletes every key under `prefix:` and `{prefix}:` (hash-tagged: the BullMQ prefix of cluster mode, the
 * rate-limit counters) and returns how many it deleted: SCAN + UNLINK, never FLUSH a shared Redis. Only a
 * test's or the bench's prefix. In a cluster each master is scanned, and keys are unlinked one by one
 * through the cluster client, since one UNLINK of keys in different slots is refused.
 */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<number> {
  if (!/^(test|bench)-/.test(prefix)) {
    throw new Error(`refusing to delete keys outside a test or bench prefix: ${prefix}`);
  }
  let deleted = 0;
  for (const node of masters(redis)) {
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        if (keys.length === 0) continue;
        if (isCluster(redis)) {
          const counts = await Promise.all(keys.map((key) => redis.unlink(key)));
          deleted += counts.reduce((sum, n) => sum + n, 0);
        } else deleted += await redis.unlink(...keys);
      } while (cursor !== "0");
    }
  }
  return deleted;
}

/**
 * `deleteKeysWithPrefix` over a connection of its own, closed afterwards: for cleanup after the processes
 * (and connections) that wrote the keys are gone. It fails at once rather than wait for a Redis that does
 * not answer.
 */
export async function deleteKeysAt(target: RedisTarget, prefix: string): Promise<number> {
  const redis = createRedisClient(target, {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  redis.on("error", () => {});
  try {
    return await deleteKeysWithPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/**
 * The lifecycle every worker process must have: connects and reports ready, stops cleanly on SIGTERM
 * and SIGINT, refuses to start (exit 1, saying why) when its database or Redis does not answer, and
 * serves its metrics. Each worker's test file calls this with what is its own.
 */
export function describeWorkerLifecycle(worker: {
  /** e.g. "orders": the process logs "<name> worker ready" and owns `<NAME>_DATABASE_URL`. */
  name: "orders" | "payments";
  dir: string;
  metrics: string[];
}) {
  const ready = new RegExp(`${worker.name} worker ready`);
  let dbs: TestDatabases;
  const redisPrefix = uniqueRedisPrefix(`${worker.name}-worker`);

  beforeAll(async () => {
    dbs = await createTestDatabases(`${worker.name}-worker`);
  });
  afterAll(async () => {
    await dbs?.drop();
    await deleteKeysAt({ REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" }, redisPrefix);
  });

  const start = (env: Record<string, string> = {}) =>
    startProcess("node", ["--import", "tsx", "src/main.ts"], {
      cwd: worker.dir,
      env: {
        ...process.env,
        ORDERS_DATABASE_URL: dbs.urls.orders,
        PAYMENTS_DATABASE_URL: dbs.urls.payments,
        IDENTITY_DATABASE_URL: dbs.urls.identity,
        REDIS_PREFIX: redisPrefix,
        MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
        METRICS_PORT: "0",
        ...env,
      },
    });

  it.each(["SIGTERM", "SIGINT"] as const)(
    "connects, reports ready and stops cleanly on %s",
    async (signal) => {
      const proc = start();
      await proc.waitForOutput(ready);
      expect(await proc.stop(signal)).toBe(0);
      expect(proc.output()).toContain('"msg":"stopped"');
    },
  );

  it("stops in time on SIGTERM while Redis is out of reach, running the rest of its shutdown", async () => {
    const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const proxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    try {
      const proc = start({ REDIS_URL: proxy.route(redisUrl.toString()) });
      await proc.waitForOutput(ready);
      await proxy.cut();
      // BullMQ's close may wait on its connections for ever then: the worker stops waiting for it.
      expect(await proc.stop("SIGTERM")).toBe(0);
      expect(proc.output()).toContain('"msg":"stopped"');
    } finally {
      await proxy.close();
    }
  });

  it("refuses to start when its database is unreachable, and says so", async () => {
    const port = await freePort();
    const variable = `${worker.name.toUpperCase()}_DATABASE_URL`;
    const proc = start({ [variable]: `postgres://postgres@127.0.0.1:${port}/nowhere` });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain("failed to start");
  });

  it("refuses to start when Redis does not answer, and says so", async () => {
    const port = await freePort();
    const proc = start({ REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/Redis did not answer.*failed to start/);
  });

  it("serves Prometheus metrics at /api/metrics", async () => {
    const port = await freePort();
    const proc = start({ METRICS_PORT: String(port) });
    await proc.waitForOutput(ready);
    const res = await fetch(`http://127.0.0.1:${port}/api/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of worker.metrics) expect(text).toContain(name);
    expect(await proc.stop("SIGTERM")).toBe(0);
  });

  it("with METRICS_TOKEN, /api/metrics answers only its bearer token", async () => {
    const port = await freePort();
    const token = "metrics-token-for-this-test-only";
    const proc = start({ METRICS_PORT: String(port), METRICS_TOKEN: token });
    await proc.waitForOutput(ready);
    const url = `http://127.0.0.1:${port}/api/metrics`;
    for (const authorization of [undefined, "Bearer wrong-token", `Basic ${token}`, "Bearer "]) {
      const refused = await fetch(url, { headers: authorization ? { authorization } : {} });
      expect(refused.status, authorization).toBe(401);
      expect(await refused.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(worker.metrics[0]);
    expect(await proc.stop("SIGTERM")).toBe(0);
  });

  it("refuses to start outside development with a development secret, naming the variable", async () => {
    const proc = start({
      NODE_ENV: "production",
      JWT_SECRET: "gozon-development-secret-change-me-in-production",
      MESSAGE_SIGNING_KEY: "gozon-development-message-key-change-me-in-production",
    });
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toMatch(/JWT_SECRET is a development default/);
    expect(proc.output()).toMatch(/MESSAGE_SIGNING_KEY is a development default/);
  });
}
