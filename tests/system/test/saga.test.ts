// The order saga end to end, through the real web process and both real workers, with and without faults.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { freePort, startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";
import { bullPrefix, QUEUES } from "@gozon/messaging/queues";
import { ApiError, inParallel, signUp } from "../src/client.ts";
import { audit, countOrders } from "../src/invariants.ts";
import { createShoppers, placeOrders, waitUntilSettled } from "../src/load.ts";
import { startSystem, type System } from "../src/system.ts";

const ORDERS = Number(process.env.SAGA_ORDERS ?? 2000);
const SHOPPERS = 50;

let system: System | undefined;
const extra: RunningProcess[] = [];

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && system) console.error(system.output().slice(-20_000));
  await system?.stop();
  system = undefined;
  await Promise.all(extra.splice(0).map((p) => p.stop("SIGKILL")));
});

function expectHealthy(result: Awaited<ReturnType<typeof audit>>) {
  expect(result.violations).toEqual([]);
  expect(result.orders.NEW).toBe(0);
  expect(result.orders.total).toBe(ORDERS);
  expect(result.debits).toBe(result.orders.FINISHED);
  // The mix exercises every path: paid, no account, not enough money.
  expect(result.orders.FINISHED).toBeGreaterThan(0);
  expect(result.cancelled.NO_ACCOUNT).toBeGreaterThan(0);
  expect(result.cancelled.INSUFFICIENT_FUNDS).toBeGreaterThan(0);
}

describe("order saga", () => {
  it(`settles ${ORDERS} concurrent orders from ${SHOPPERS} shoppers with every invariant intact`, async () => {
    system = await startSystem();
    const shoppers = await createShoppers(system.webUrls, SHOPPERS, 11);
    const started = Date.now();
    await placeOrders(shoppers, ORDERS, { seed: 12 });
    const settledAt = await waitUntilSettled(system.dbs.urls, ORDERS);
    const result = await audit(system.dbs.urls);
    console.log(
      `saga: ${ORDERS} orders settled in ${settledAt - started} ms`,
      result.orders,
      result.cancelled,
    );
    expectHealthy(result);
  });

  it("keeps every invariant when each worker is SIGKILLed twice mid-run", async () => {
    system = await startSystem();
    const sys = system;
    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 21);
    const faults: Promise<void>[] = [];
    const schedule = [0.15, 0.35, 0.55, 0.75].map((share) => Math.floor(ORDERS * share));
    const victims = ["payments-worker", "orders-worker", "payments-worker", "orders-worker"] as const;
    let lastFaultAt = 0;
    let chain = Promise.resolve();
    await placeOrders(shoppers, ORDERS, {
      seed: 22,
      onProgress: (done) => {
        const index = schedule.indexOf(done);
        if (index === -1) return;
        // One fault at a time, while orders keep arriving.
        chain = chain.then(async () => {
          await sys.restart(victims[index] as (typeof victims)[number]);
          lastFaultAt = Date.now();
        });
        faults.push(chain);
      },
    });
    await Promise.all(faults);
    expect(faults).toHaveLength(4);
    const settledAt = await waitUntilSettled(sys.dbs.urls, ORDERS);
    const result = await audit(sys.dbs.urls);
    console.log(`kill: settled ${settledAt - lastFaultAt} ms after the last restart`, result.orders);
    expectHealthy(result);
    expect(sys.output().match(/\(killed\)/g)).toHaveLength(4);
  });

  it("settles every order without a double charge when Redis loses everything mid-run", async () => {
    const port = await freePort();
    const redisServer = startProcess(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { cwd: process.cwd(), env: process.env },
    );
    extra.push(redisServer);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const redis = new Redis(redisUrl);
    redis.on("error", () => {}); // refused until redis-server listens; waitFor retries the PING
    await waitFor(() => redis.ping());
    const reconcileAfterMs = 3_000;
    system = await startSystem({ redisUrl, env: { RECONCILE_AFTER_MS: String(reconcileAfterMs) } });
    const sys = system;
    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 31);
    let flushedAt = 0;
    let flushed: Promise<unknown> = Promise.resolve();
    await placeOrders(shoppers, ORDERS, {
      seed: 32,
      onProgress: (done) => {
        if (done !== Math.floor(ORDERS / 2)) return;
        flushed = redis.flushall().then(() => (flushedAt = Date.now()));
      },
    });
    await flushed;
    expect(flushedAt).toBeGreaterThan(0);
    const lastCreatedAt = Date.now();
    // Bound: an order whose request or result was lost waits out the reconciler age, then one more round.
    const bound = 2 * reconcileAfterMs + 15_000;
    const settledAt = await waitUntilSettled(sys.dbs.urls, ORDERS, bound + 30_000);
    const result = await audit(sys.dbs.urls);
    console.log(
      `flushall: settled ${settledAt - flushedAt} ms after FLUSHALL (${settledAt - lastCreatedAt} ms after the last order)`,
      result.orders,
    );
    expectHealthy(result);
    expect(settledAt - lastCreatedAt).toBeLessThan(bound);
    redis.disconnect();
  });

  it("settles orders again after someone writes strings over the queues' own keys", async () => {
    system = await startSystem();
    const sys = system;
    const shoppers = await createShoppers(sys.webUrls, 10, 41);
    await placeOrders(shoppers, 50, { seed: 42 });
    await waitUntilSettled(sys.dbs.urls, 50);
    // Strings where BullMQ keeps a queue's wake-ups, events, settings and waiting jobs: every add to
    // either queue is refused, and so is every take of a result, until the keys are mended.
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const broken = [
      ...["marker", "events", "meta", "wait"].map((key) => `${QUEUES.paymentRequests}:${key}`),
      ...["marker", "events", "active"].map((key) => `${QUEUES.paymentResults}:${key}`),
    ].map((key) => `${bullPrefix({ REDIS_PREFIX: sys.redisPrefix })}:${key}`);
    for (const key of broken) await redis.set(key, "written by another hand");
    const corruptedAt = Date.now();
    await placeOrders(shoppers, 50, { seed: 43 });
    // The workers mend the keys every 5 s, and the relay backs off for at most 5 s.
    const settledAt = await waitUntilSettled(sys.dbs.urls, 100, 30_000);
    const result = await audit(sys.dbs.urls);
    console.log(`queue keys: settled ${settledAt - corruptedAt} ms after the keys were overwritten`);
    expect(result.violations).toEqual([]);
    expect(result.debits).toBe(result.orders.FINISHED);
    for (const key of broken) expect(await redis.type(key)).not.toBe("string");
    expect(sys.output()).toMatch(/deleted queue keys BullMQ could not use/);
    redis.disconnect();
  });
});

describe("orders API on the running system", () => {
  it("makes one order for 20 concurrent creates with the same Idempotency-Key, and keeps orders private", async () => {
    system = await startSystem();
    const web = system.webUrls[0] as string;
    const alice = await signUp(web, "alice");
    const bob = await signUp(web, "bob");
    await alice.api.createAccount();
    await alice.api.topUp(10_000);
    const key = randomUUID();
    const results = await inParallel(
      20,
      Array.from({ length: 20 }, () => () => alice.api.createOrder(1_500, "gift", key)),
    );
    expect(new Set(results.map((r) => r.order.id)).size).toBe(1);
    const orderId = results[0]!.order.id;

    const settled = await waitFor(async () => {
      const { order } = await alice.api.getOrder(orderId);
      return order.status !== "NEW" ? order : null;
    });
    expect(settled.status).toBe("FINISHED");
    expect((await alice.api.getAccount()).account.balance).toBe(8_500);
    expect((await countOrders(system.dbs.urls)).FINISHED).toBe(1);

    await expect(bob.api.getOrder(orderId)).rejects.toMatchObject({
      status: 404,
    } satisfies Partial<ApiError>);
    expect((await bob.api.listOrders()).orders).toEqual([]);
    expect((await alice.api.listOrders()).orders.map((o) => o.id)).toEqual([orderId]);
  });
});
