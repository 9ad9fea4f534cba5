// The payment-results consumer against real Postgres and Redis: a result that this system did not sign,
// or that is not its order's (a forged one), is refused as poison, never retried, and leaves the order
// NEW for the real result.
import { randomUUID } from "node:crypto";
import { Queue, type Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { createRegistry } from "@gozon/core/metrics";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage, type PaymentResult } from "@gozon/messaging/contracts";
import { createProducerConnection, createRedisConnection, QUEUES } from "@gozon/messaging/queues";
import { messageKey, signMessage } from "@gozon/messaging/signing";
import { deleteKeysWithPrefix, testSigningKey, uniqueRedisPrefix } from "@gozon/messaging/testing";
import { createOrder } from "@gozon/orders/create-order";
import { consumePaymentResults } from "../src/consume-results.ts";
import { createOrdersWorkerMetrics } from "../src/metrics.ts";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = createRedisConnection(redisUrl);
const publisher = createProducerConnection(redisUrl);
const prefix = uniqueRedisPrefix("results-consumer");
const results = new Queue(QUEUES.paymentResults, { connection: redis, prefix });
const metrics = createOrdersWorkerMetrics(createRegistry("orders-worker-test"));
let dbs: TestDatabases;
let db: SqlPool;
let worker: ReturnType<typeof consumePaymentResults>;

beforeAll(async () => {
  dbs = await createTestDatabases("results_consumer");
  db = createSqlPool(dbs.urls.orders);
  await publisher.connect().catch(() => undefined);
  worker = consumePaymentResults({
    db,
    connection: createRedisConnection(redisUrl),
    publisher,
    prefix,
    redisPrefix: prefix,
    signingKey: testSigningKey,
    log: createLogger("results-consumer-test", "silent"),
    metrics,
  });
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  await results.close();
  await db?.$disconnect();
  await dbs?.drop();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
  publisher.disconnect();
});

const statusOf = async (orderId: string) => {
  const [row] = await db.$queryRaw<
    { status: string }[]
  >`SELECT status::text FROM orders WHERE id = ${orderId}::uuid`;
  return row!.status;
};
const poisonCount = async (reason: string) =>
  (await metrics.poison.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

/** Puts job data on the queue, and resolves with the job once it finished either way. */
async function put(type: string, data: unknown, jobId: string): Promise<Job> {
  const job = await results.add(type, data, { jobId, attempts: 12 });
  await expect
    .poll(async () => (await job.getState()) as string, { timeout: 10_000 })
    .toMatch(/completed|failed/);
  return (await results.getJob(job.id!))!;
}
/** Puts a result on the queue as the payments relay would: signed under the system's key. */
const deliver = (result: PaymentResult) =>
  put(result.type, signMessage(testSigningKey, result), result.messageId);

describe("payment results", () => {
  it("a result without this system's signature over exactly its fields is poison: the order stays NEW", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 700, description: "forged signatures" });
    const before = await poisonCount("signature");
    // A forged result that would match the order in every field: only the signature gives it away.
    const forged = buildMessage("PaymentSucceeded", { orderId: order.id, userId, amount: 700 });
    const other = signMessage(
      testSigningKey,
      buildMessage("PaymentFailed", { ...forged.payload, reason: "NO_ACCOUNT" }),
    );
    const cases = {
      unsigned: forged,
      "wrong-key": signMessage(messageKey("not-this-systems-key-".repeat(2)), forged),
      "bad-sig": { ...forged, sig: "hs256v1:" + "A".repeat(43) },
      "other-payload": { ...forged, sig: other.sig }, // a real signature, of another message
      "changed-after-signing": {
        ...signMessage(testSigningKey, { ...forged, type: "PaymentFailed", payload: other.payload }),
        type: "PaymentSucceeded",
        payload: forged.payload,
      },
    };
    for (const [name, data] of Object.entries(cases)) {
      const job = await put("PaymentSucceeded", data, `forged-${name}`);
      expect(await job.getState(), name).toBe("failed");
      expect(job.attemptsMade, name).toBe(1);
      expect(job.failedReason, name).toMatch(/^poison payment result: (unsigned message|bad signature)/);
    }
    expect(await statusOf(order.id)).toBe("NEW");
    expect(await poisonCount("signature")).toBe(before + Object.keys(cases).length);

    // The real result, signed by payments, settles it.
    expect(await (await deliver(forged)).getState()).toBe("completed");
    expect(await statusOf(order.id)).toBe("FINISHED");
  });

  it("a result with another user or amount than its order's is poison: no retry, the order stays NEW", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 500, description: "forged result" });
    const before = await poisonCount("mismatch");
    const forged = [
      buildMessage("PaymentSucceeded", { orderId: order.id, userId: randomUUID(), amount: 1 }),
      buildMessage("PaymentSucceeded", { orderId: order.id, userId, amount: 1 }),
      buildMessage("PaymentSucceeded", { orderId: order.id, userId: randomUUID(), amount: 500 }),
    ];
    for (const result of forged) {
      const job = await deliver(result);
      expect(await job.getState()).toBe("failed");
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toMatch(/^poison payment result: .*differ from the order's/);
    }
    expect(await statusOf(order.id)).toBe("NEW");
    expect(await poisonCount("mismatch")).toBe(before + forged.length);

    // The real (failed) payment still settles the order as it should.
    const real = buildMessage("PaymentFailed", {
      orderId: order.id,
      userId,
      amount: 500,
      reason: "NO_ACCOUNT",
    });
    expect(await (await deliver(real)).getState()).toBe("completed");
    expect(await statusOf(order.id)).toBe("CANCELLED");
  });

  it("a job whose stored data is not JSON is poison, failed once: it does not come back forever", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 300, description: "not JSON" });
    const before = await poisonCount("signature");
    const real = buildMessage("PaymentSucceeded", { orderId: order.id, userId, amount: 300 });
    // Written straight into the job's hash, as anyone who can reach Redis could; delayed until then so
    // the consumer cannot take it first. BullMQ itself cannot read it back (its getJob throws).
    const jobId = "not-json";
    await results.add(real.type, signMessage(testSigningKey, real), { jobId, delay: 60_000, attempts: 12 });
    const jobKey = `${prefix}:${QUEUES.paymentResults}:${jobId}`;
    await redis.hset(jobKey, "data", JSON.stringify(signMessage(testSigningKey, real)).slice(0, -1));
    await results.promoteJobs();

    await expect.poll(() => results.getJobState(jobId), { timeout: 10_000 }).toBe("failed");
    expect(await redis.hget(jobKey, "failedReason")).toMatch(/^poison payment result: /);
    expect(await redis.hget(jobKey, "atm")).toBe("1"); // not retried
    expect(await poisonCount("signature")).toBe(before + 1); // its text carries no signature
    expect(await statusOf(order.id)).toBe("NEW");
    // The intact result still settles the order.
    expect(await (await deliver(real)).getState()).toBe("completed");
    expect(await statusOf(order.id)).toBe("FINISHED");
  });
});
