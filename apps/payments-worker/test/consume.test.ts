// The real payments worker process against real Postgres and Redis: outcomes, duplicates, poison messages.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { freePort, waitFor, type RunningProcess } from "@gozon/core/testing";
import { createSqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { QUEUES } from "@gozon/messaging/queues";
import { messageKey, signMessage } from "@gozon/messaging/signing";
import { testSigningKey } from "@gozon/messaging/testing";
import { createAccount, topUp } from "@gozon/payments/accounts";
import { storeInbox } from "@gozon/payments/testing";
import { startRequestConsumer } from "../src/consume-requests.ts";
import { balanceOf, createHarness, debitsFor, decisionFor, type Harness } from "./harness.ts";

let h: Harness;
let worker: RunningProcess;

beforeAll(async () => {
  h = await createHarness("pw-consume");
  worker = h.startWorker();
  await worker.waitForOutput(/payments worker ready/);
});

afterAll(async () => {
  if (worker) expect(await worker.stop()).toBe(0);
  await h?.close();
});

async function accountWith(balance: number) {
  const userId = randomUUID();
  await createAccount(h.db, userId);
  if (balance > 0) await topUp(h.db, userId, balance);
  return userId;
}

const request = (userId: string, amount: number) =>
  buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount });

const resultOf = (orderId: string) =>
  waitFor(() => h.resultsFor(orderId)[0], { what: `the result for order ${orderId}` });

describe("payments worker", () => {
  it("charges an order and delivers PaymentSucceeded to orders.payment-results", async () => {
    const userId = await accountWith(1_000);
    const message = request(userId, 600);
    await h.send(message);
    expect(await resultOf(message.payload.orderId)).toMatchObject({
      type: "PaymentSucceeded",
      payload: message.payload,
    });
    expect(await balanceOf(h.db, userId)).toBe(400);
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(1);
  });

  it("answers NO_ACCOUNT when the user has no account", async () => {
    const message = request(randomUUID(), 600);
    await h.send(message);
    expect(await resultOf(message.payload.orderId)).toMatchObject({
      type: "PaymentFailed",
      payload: { ...message.payload, reason: "NO_ACCOUNT" },
    });
  });

  it("answers INSUFFICIENT_FUNDS and leaves the balance and the ledger untouched", async () => {
    const userId = await accountWith(599);
    const message = request(userId, 600);
    await h.send(message);
    expect(await resultOf(message.payload.orderId)).toMatchObject({
      type: "PaymentFailed",
      payload: { reason: "INSUFFICIENT_FUNDS" },
    });
    expect(await balanceOf(h.db, userId)).toBe(599);
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(0);
    expect(await decisionFor(h.db, message.payload.orderId)).toEqual({
      outcome: "FAILED",
      reason: "INSUFFICIENT_FUNDS",
    });
  });

  it("drops the same message delivered as 50 jobs, with a log line, and charges once", async () => {
    const userId = await accountWith(10_000);
    const message = request(userId, 100);
    // Distinct job ids, or BullMQ itself would ignore the repeats: this exercises the inbox.
    const jobIds = Array.from({ length: 50 }, (_, i) => `${message.messageId}-copy-${i}`);
    await Promise.all(jobIds.map((jobId) => h.send(message, jobId)));
    await resultOf(message.payload.orderId);
    await waitFor(
      async () => {
        const jobs = await Promise.all(jobIds.map((jobId) => h.requests.getJob(jobId)));
        return jobs.every((job) => job?.returnvalue);
      },
      { what: "all 50 jobs done" },
    );
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(1);
    expect(await balanceOf(h.db, userId)).toBe(9_900);
    // Log lines go out within LOG_FLUSH_MS (the logger buffers them), so wait for all of them.
    const dropped = () =>
      worker
        .output()
        .split("\n")
        .filter((line) => line.includes("duplicate message dropped") && line.includes(message.messageId));
    await waitFor(() => dropped().length >= 49, { what: "49 duplicates logged" });
    expect(dropped()).toHaveLength(49);
    expect(h.resultsFor(message.payload.orderId)).toHaveLength(1);
  });

  it("decides an inbox entry stored and never decided (the periodic sweep), and delivers the result", async () => {
    const userId = await accountWith(1_000);
    const message = request(userId, 100);
    expect(await storeInbox(h.db, message)).toBe(true); // stored, and no job will ever come
    expect(await resultOf(message.payload.orderId)).toMatchObject({ type: "PaymentSucceeded" });
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(1);
  });

  it("dead-letters a poison message at once with a log line, and goes on with the next message", async () => {
    const userId = await accountWith(1_000);
    const poison = { ...request(userId, 100), payload: { orderId: randomUUID(), userId, amount: 1.5 } };
    // Signed by this system, yet not a valid request: poison for the contract, not for the signature.
    await h.requests.add("PaymentRequested", signMessage(testSigningKey, poison), { jobId: "poison-float" });
    await h.requests.add("PaymentRequested", "not even an object", { jobId: "poison-garbage" });
    await h.requests.add(
      "RefundRequested",
      signMessage(testSigningKey, { ...request(userId, 1), type: "RefundRequested" }),
      { jobId: "poison-type" },
    );
    const next = request(userId, 100);
    await h.send(next);

    expect(await resultOf(next.payload.orderId)).toMatchObject({ type: "PaymentSucceeded" });
    for (const jobId of ["poison-float", "poison-garbage", "poison-type"]) {
      const job = await waitFor(
        async () => {
          const found = await h.requests.getJob(jobId);
          return found && (await found.getState()) === "failed" ? found : undefined;
        },
        { what: `${jobId} in the failed set` },
      );
      expect(job.attemptsMade).toBe(1); // no retries
      expect(job.failedReason).toMatch(/^poison message: /);
      const logged = new RegExp(`"jobId":"${jobId}".*"msg":"poison message dead-lettered"`);
      await waitFor(() => logged.test(worker.output()), { what: `${jobId} logged as dead-lettered` });
    }
    expect(worker.output()).toContain(poison.messageId); // the log line names the message too
    expect(worker.child.exitCode).toBeNull();
  });

  it("dead-letters once a job whose stored data is not JSON, instead of fetching it forever", async () => {
    const userId = await accountWith(1_000);
    // Written straight into the job's hash, as anyone who can reach Redis could; delayed until then so
    // the worker cannot take it first. BullMQ itself cannot read it back (its getJob throws).
    const jobId = "poison-not-json";
    await h.requests.add("PaymentRequested", request(userId, 100), { jobId, delay: 60_000 });
    await h.redis.hset(`${h.prefix}:${QUEUES.paymentRequests}:${jobId}`, "data", '{"messageId":');
    await h.requests.promoteJobs();
    const next = request(userId, 100);
    await h.send(next);

    expect(await resultOf(next.payload.orderId)).toMatchObject({ type: "PaymentSucceeded" });
    await waitFor(async () => (await h.requests.getJobState(jobId)) === "failed", {
      what: `${jobId} in the failed set`,
    });
    const jobKey = `${h.prefix}:${QUEUES.paymentRequests}:${jobId}`;
    expect(await h.redis.hget(jobKey, "failedReason")).toMatch(/^poison message: /);
    expect(await h.redis.hget(jobKey, "atm")).toBe("1"); // failed on its first attempt, not retried
    expect(await h.redis.hget(jobKey, "stc")).toBeNull(); // never left to stall
    const logged = new RegExp(`"jobId":"${jobId}".*"msg":"poison message dead-lettered"`);
    await waitFor(() => logged.test(worker.output()), { what: `${jobId} logged as dead-lettered` });
    expect(await balanceOf(h.db, userId)).toBe(900); // only the next request was charged
    expect(worker.child.exitCode).toBeNull();
  });
});

describe("forged payment requests", () => {
  it("a request without this system's signature over exactly its fields debits nobody: poison, no retry", async () => {
    const userId = await accountWith(10_000);
    // Anyone who can write to Redis: an order that exists nowhere, on a real shopper's account.
    const forged = request(userId, 9_999);
    const signedOther = signMessage(testSigningKey, request(userId, 1));
    const cases = {
      "forged-unsigned": forged,
      "forged-wrong-key": signMessage(messageKey("not-this-systems-key-".repeat(2)), forged),
      "forged-bad-sig": { ...forged, sig: "hs256v1:" + "A".repeat(43) },
      "forged-other-payload": { ...forged, sig: signedOther.sig }, // a real signature, of another message
      "forged-changed": { ...signMessage(testSigningKey, forged), payload: { ...forged.payload, amount: 1 } },
      "forged-sig-not-string": { ...forged, sig: { v: 1 } },
    };
    for (const [jobId, data] of Object.entries(cases))
      await h.requests.add("PaymentRequested", data, { jobId });
    const next = request(userId, 100);
    await h.send(next);
    expect(await resultOf(next.payload.orderId)).toMatchObject({ type: "PaymentSucceeded" });

    for (const jobId of Object.keys(cases)) {
      const job = await waitFor(
        async () => {
          const found = await h.requests.getJob(jobId);
          return found && (await found.getState()) === "failed" ? found : undefined;
        },
        { what: `${jobId} in the failed set` },
      );
      expect(job.attemptsMade).toBe(1); // no retries
      expect(job.failedReason).toMatch(/^poison message: (unsigned message|bad signature)/);
      const logged = new RegExp(
        `"jobId":"${jobId}".*"reason":"signature".*"msg":"poison message dead-lettered"`,
      );
      await waitFor(() => logged.test(worker.output()), { what: `${jobId} logged as dead-lettered` });
    }
    // Only the real order was charged; the forged one was never even stored.
    expect(await balanceOf(h.db, userId)).toBe(9_900);
    expect(await debitsFor(h.db, forged.payload.orderId)).toBe(0);
    expect(await decisionFor(h.db, forged.payload.orderId)).toBeUndefined();
    expect(h.resultsFor(forged.payload.orderId)).toEqual([]);
  });
});

describe("request consumer when its database is down", () => {
  it("fails the job and lets BullMQ retry it with backoff, then processes it once the database is back", async () => {
    const log = createLogger("consume-test", "silent");
    const deadDb = createSqlPool(`postgres://postgres@127.0.0.1:${await freePort()}/nowhere`);
    const userId = await accountWith(1_000);
    const message = request(userId, 250);

    await worker.stop(); // only the in-process consumers below may take this job
    try {
      const broken = startRequestConsumer({
        db: deadDb,
        connection: h.redis,
        prefix: h.prefix,
        signingKey: testSigningKey,
        log,
      });
      await h.send(message);
      const retried = await waitFor(
        async () => {
          const job = await h.requests.getJob(message.messageId);
          return job && job.attemptsMade >= 2 ? job : undefined;
        },
        { what: "two failed attempts" },
      );
      await broken.close();
      expect(["delayed", "waiting", "wait"]).toContain(await retried.getState());
      expect(retried.failedReason).toMatch(/connect|ECONNREFUSED|database/i);

      const healthy = startRequestConsumer({
        db: h.db,
        connection: h.redis,
        prefix: h.prefix,
        signingKey: testSigningKey,
        log,
      });
      try {
        await waitFor(
          async () => (await h.requests.getJob(message.messageId))?.returnvalue?.status === "decided",
          {
            what: "the retried job to be processed",
          },
        );
      } finally {
        await healthy.close();
      }
      expect(await debitsFor(h.db, message.payload.orderId)).toBe(1);
    } finally {
      await deadDb.$disconnect();
      worker = h.startWorker();
      await worker.waitForOutput(/payments worker ready/);
    }
    expect(await resultOf(message.payload.orderId)).toMatchObject({ type: "PaymentSucceeded" });
  });
});
