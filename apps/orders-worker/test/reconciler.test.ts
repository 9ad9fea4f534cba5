// The reconciler against real queues, through the worker's own pipeline: it holds back while a backlog
// drains, and leaves alone orders whose request or result is still on its way, so a backlog's orders
// (NEW, their requests long sent) are not asked for again.
import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { waitFor } from "@gozon/core/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import { createRedisConnection, QUEUES } from "@gozon/messaging/queues";
import { signMessage } from "@gozon/messaging/signing";
import { deleteKeysWithPrefix, testSigningKey, uniqueRedisPrefix } from "@gozon/messaging/testing";
import { createOrder } from "@gozon/orders/create-order";
import { createReconciler } from "@gozon/orders/reconcile";
import { paymentPipeline } from "../src/payment-pipeline.ts";

const redis = createRedisConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const prefix = uniqueRedisPrefix("reconciler");
const requests = new Queue(QUEUES.paymentRequests, { connection: redis, prefix });
const results = new Queue(QUEUES.paymentResults, { connection: redis, prefix });
let dbs: TestDatabases;
let db: SqlPool;

beforeAll(async () => {
  dbs = await createTestDatabases("reconciler");
  db = createSqlPool(dbs.urls.orders);
});
afterAll(async () => {
  await db?.$disconnect();
  await dbs?.drop();
  await requests.close();
  await results.close();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

/** A NEW order whose request went out an hour ago. */
async function staleOrder(description: string) {
  const order = await createOrder(db, { userId: randomUUID(), amount: 10, description });
  await db.$executeRaw`
    UPDATE orders SET payment_requested_at = now() - interval '1 hour' WHERE id = ${order.id}::uuid`;
  await db.$executeRaw`
    UPDATE outbox SET sent_at = now() - interval '1 hour'
    WHERE payload #>> '{payload,orderId}' = ${order.id}`;
  const [row] = await db.$queryRaw<{ requestId: string }[]>`
    SELECT payment_request_id::text AS "requestId" FROM orders WHERE id = ${order.id}::uuid`;
  return { ...order, requestId: row!.requestId };
}

const requestsFor = async (orderId: string) => {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM outbox
    WHERE type = 'PaymentRequested' AND payload #>> '{payload,orderId}' = ${orderId}`;
  return Number(row!.n);
};

it("holds back while the queues are deep, then asks for what is really lost", async () => {
  const order = await staleOrder("behind a backlog");
  const reconciler = createReconciler({
    db,
    olderThanMs: 30_000,
    holdBacklog: 4,
    pipeline: paymentPipeline(requests, results, 30_000, testSigningKey),
  });

  // A backlog of results waiting to be settled: deep enough to hold. Delayed jobs wait for a time of
  // their own and are no backlog, however many: a year's delay must not hold the reconciler for a year.
  await results.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: "PaymentSucceeded", data: { i } })));
  const aYear = 365 * 24 * 3_600_000;
  await requests.addBulk(
    Array.from({ length: 10 }, (_, i) => ({ name: "PaymentRequested", data: { i }, opts: { delay: aYear } })),
  );
  expect(await reconciler.pass()).toMatchObject({ held: true, backlog: 4, reRequested: 0 });
  expect(await requestsFor(order.id)).toBe(1);

  // Drained, and the order's result was not in it: it is asked for again.
  await results.drain(true);
  expect(await reconciler.pass()).toMatchObject({ held: false, backlog: 0, reRequested: 1 });
  expect(await requestsFor(order.id)).toBe(2);
  await requests.drain(true);
});

it("is not stopped by jobs whose stored data or options are not JSON, and asks again for one BullMQ gave up on", async () => {
  const lost = await staleOrder("its request lost");
  const unreadable = await staleOrder("its request unreadable");
  const notAJob = await staleOrder("a string under its request's key");
  const resultStuck = await staleOrder("its result given up on");
  const reconciler = createReconciler({
    db,
    olderThanMs: 30_000,
    pipeline: paymentPipeline(requests, results, 30_000, testSigningKey),
  });
  // Written by another hand: a result that cannot be read, and the second order's request with options
  // that cannot be read, which BullMQ's stalled check has given up on (it comes back to the queue for
  // ever, since no worker can read it to fail it; see queues.test.ts).
  await results.add("PaymentSucceeded", {}, { jobId: "garbage", delay: 60_000 });
  await redis.hset(`${prefix}:${QUEUES.paymentResults}:garbage`, "data", "{not json");
  await results.promoteJobs();
  await requests.add("PaymentRequested", {}, { jobId: unreadable.requestId });
  const requestKey = `${prefix}:${QUEUES.paymentRequests}:${unreadable.requestId}`;
  await redis.hset(requestKey, "opts", "{not json", "defa", "job stalled more than allowable limit");
  await redis.set(`${prefix}:${QUEUES.paymentRequests}:${notAJob.requestId}`, "not a job");
  // A signed result whose options cannot be read either: BullMQ gave up on it, so it settles nothing.
  const result = buildMessage("PaymentSucceeded", {
    orderId: resultStuck.id,
    userId: randomUUID(),
    amount: 10,
  });
  await results.add(result.type, signMessage(testSigningKey, result), { jobId: result.messageId });
  const resultKey = `${prefix}:${QUEUES.paymentResults}:${result.messageId}`;
  await redis.hset(resultKey, "opts", "{not json", "defa", "job stalled more than allowable limit");

  expect(await reconciler.pass()).toMatchObject({ held: false, reRequested: 4, stillQueued: 0 });
  for (const order of [lost, unreadable, notAJob, resultStuck]) expect(await requestsFor(order.id)).toBe(2);
  await results.obliterate({ force: true });
  await requests.obliterate({ force: true });
});

it("leaves alone an order whose result waits to be settled or whose request was just answered", async () => {
  const waitingResult = await staleOrder("result queued");
  const justAnswered = await staleOrder("request just answered");
  const lost = await staleOrder("request and result lost");
  const result = buildMessage("PaymentSucceeded", {
    orderId: waitingResult.id,
    userId: waitingResult.userId,
    amount: 10,
  });
  await results.add("PaymentSucceeded", signMessage(testSigningKey, result));
  // The same result forged (no signature) for the lost order: it will be refused, so it holds nothing back.
  const forged = buildMessage("PaymentSucceeded", { orderId: lost.id, userId: lost.userId, amount: 10 });
  await results.add("PaymentSucceeded", forged);
  // Payments took and answered this one's request a moment ago: its result is on its way.
  await requests.add("PaymentRequested", {}, { jobId: justAnswered.requestId });
  const payments = new Worker(QUEUES.paymentRequests, async () => "decided", {
    connection: redis.duplicate(),
    prefix,
  });
  try {
    await waitFor(async () => (await requests.getJobState(justAnswered.requestId)) === "completed", {
      what: "the request to be answered",
    });
  } finally {
    await payments.close();
  }

  const pass = (recentMs: number) =>
    createReconciler({
      db,
      olderThanMs: 30_000,
      pipeline: paymentPipeline(requests, results, recentMs, testSigningKey),
    }).pass();
  expect(await pass(60_000)).toMatchObject({ held: false, reRequested: 1, stillQueued: 2 });
  expect(await requestsFor(waitingResult.id)).toBe(1);
  expect(await requestsFor(justAnswered.id)).toBe(1);
  expect(await requestsFor(lost.id)).toBe(2);

  // Once the answer is older than the age and still no result came, the order is asked for again.
  await db.$executeRaw`UPDATE orders SET next_reconcile_at = now() WHERE id = ${justAnswered.id}::uuid`;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await pass(10)).toMatchObject({ reRequested: 1 });
  expect(await requestsFor(justAnswered.id)).toBe(2);
  await results.drain(true);
});
