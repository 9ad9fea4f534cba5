import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_POOL_MAX, poolMaxFromEnv, poolSizeFor } from "../src/pool-size.ts";
import { createSqlPool, type SqlPool } from "../src/sql-client.ts";
import { freshDatabase, onCleanup } from "./helpers.ts";

// The orders worker's demand, as apps/orders-worker/src/main.ts declares it.
const ordersWorker = {
  consumers: { paymentResults: 20 },
  background: [
    "outbox relay",
    "position assigner",
    "reconciler",
    "housekeeping",
    "outbox backlog gauge",
    "outbox age gauge",
  ],
};

describe("poolSizeFor", () => {
  it("gives every concurrent job and every background task a connection; DB_POOL_MAX only adds", () => {
    expect(poolSizeFor(ordersWorker, undefined)).toBe(26);
    expect(poolSizeFor({ consumers: { a: 16, b: 4 }, background: ["relay"] }, undefined)).toBe(21);
    expect(poolSizeFor(ordersWorker, 10)).toBe(26);
    expect(poolSizeFor(ordersWorker, 40)).toBe(40);
    expect(() => poolSizeFor({ consumers: { a: 0 }, background: [] }, undefined)).toThrow(/concurrency/);
  });

  it("is large enough that no job waits for a connection when everything runs at once", async () => {
    const url = await freshDatabase("pool-size");
    const holders = 20 + ordersWorker.background.length;
    /** Every holder keeps a connection 600 ms, and gives up if it waited 300 ms for one. */
    const allAtOnce = async (db: SqlPool) => {
      // Connections opened first, so only waiting for a free one is measured, not opening one.
      await Promise.all(Array.from({ length: holders }, () => db.$queryRaw`SELECT pg_sleep(0.05)`));
      const results = await Promise.allSettled(
        Array.from({ length: holders }, () =>
          db.$transaction((tx) => tx.$queryRaw`SELECT pg_sleep(0.6)`, { maxWait: 300 }),
        ),
      );
      return results.filter((r) => r.status === "rejected").length;
    };
    const sized = createSqlPool(url, { max: poolSizeFor(ordersWorker, undefined) });
    onCleanup(() => sized.$disconnect());
    expect(await allAtOnce(sized)).toBe(0);
    // The pool every process had before (DB_POOL_MAX's default of 10) fails jobs under the same demand.
    const small = createSqlPool(url, { max: 10 });
    onCleanup(() => small.$disconnect());
    expect(await allAtOnce(small)).toBeGreaterThan(0);
  });
});

describe("poolMaxFromEnv", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("is DB_POOL_MAX, or the default when it is unset or empty", () => {
    vi.stubEnv("DB_POOL_MAX", undefined);
    expect(poolMaxFromEnv()).toBe(DEFAULT_POOL_MAX);
    vi.stubEnv("DB_POOL_MAX", "");
    expect(poolMaxFromEnv()).toBe(DEFAULT_POOL_MAX);
    vi.stubEnv("DB_POOL_MAX", "25");
    expect(poolMaxFromEnv()).toBe(25);
  });

  // Read with Number() before, "ten" was NaN, and pg-pool quietly used its own default of 10.
  it.each(["ten", "0", "-3", "2.5"])("refuses DB_POOL_MAX=%s, naming it", (value) => {
    vi.stubEnv("DB_POOL_MAX", value);
    expect(() => poolMaxFromEnv()).toThrow(new RegExp(`DB_POOL_MAX must be .* \\(got "${value}"\\)`));
  });
});
