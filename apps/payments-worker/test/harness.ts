// Test harness: fresh databases, a unique Redis prefix, the real worker process, and a stand-in for the
// orders side (it sends PaymentRequested jobs and collects what arrives on orders.payment-results).
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { startProcess } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { openMessage, type Message, type PaymentResult } from "@gozon/messaging/contracts";
import { bullPrefix, createRedisConnection, defaultJobOptions, QUEUES } from "@gozon/messaging/queues";
import { signMessage } from "@gozon/messaging/signing";
import {
  deleteKeysWithPrefix,
  TEST_MESSAGE_SIGNING_KEY,
  testSigningKey,
  uniqueRedisPrefix,
} from "@gozon/messaging/testing";
import { createAccount, topUp } from "@gozon/payments/accounts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const workerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type Harness = Awaited<ReturnType<typeof createHarness>>;

export async function createHarness(label: string) {
  const dbs: TestDatabases = await createTestDatabases(label);
  const db = createSqlPool(dbs.urls.payments);
  const redisPrefix = uniqueRedisPrefix(label);
  const prefix = bullPrefix({ REDIS_PREFIX: redisPrefix });
  const redis = createRedisConnection(REDIS_URL);
  // The job options the orders relay uses (retries with backoff), so a retry here is a real retry.
  const requests = new Queue(QUEUES.paymentRequests, { connection: redis, prefix, defaultJobOptions });

  // Every result that reaches the orders' queue, in arrival order (duplicates included).
  const results: PaymentResult[] = [];
  const collector = new Worker(
    QUEUES.paymentResults,
    async (job) => {
      // What the orders worker would accept: signed under the run's key, a valid result.
      const opened = openMessage(testSigningKey, job.data, ["PaymentSucceeded", "PaymentFailed"]);
      if (!opened.ok) throw new Error(`a result the orders worker would refuse: ${opened.error}`);
      results.push(opened.message);
    },
    { connection: redis.duplicate(), prefix, concurrency: 20 },
  );

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    ORDERS_DATABASE_URL: dbs.urls.orders,
    PAYMENTS_DATABASE_URL: dbs.urls.payments,
    IDENTITY_DATABASE_URL: dbs.urls.identity,
    REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
    GOZON_FAILPOINTS: "",
    ...extra,
  });

  return {
    dbs,
    db,
    redis,
    prefix,
    redisPrefix,
    requests,
    results,
    env,
    /** The real worker process. */
    startWorker: (extra: NodeJS.ProcessEnv = {}) =>
      startProcess("node", ["--import", "tsx", "src/main.ts"], { cwd: workerDir, env: env(extra) }),
    /** Sends a message the way the orders relay does: signed, job name = type, job id = message id. */
    send: (message: Message, jobId: string = message.messageId) =>
      requests.add(message.type, signMessage(testSigningKey, message), { jobId }),
    resultsFor: (orderId: string) => results.filter((result) => result.payload.orderId === orderId),
    close: async () => {
      await collector.close();
      await requests.close();
      await deleteKeysWithPrefix(redis, redisPrefix);
      redis.disconnect();
      await db.$disconnect();
      await dbs.drop();
    },
  };
}

/** A new account holding `balance`; its user id. */
export async function accountWith(db: SqlPool, balance: number) {
  const userId = randomUUID();
  await createAccount(db, userId);
  await topUp(db, userId, balance);
  return userId;
}

export async function balanceOf(db: SqlPool, userId: string) {
  const [row] = await db.$queryRaw<
    { balance: bigint }[]
  >`SELECT balance FROM accounts WHERE user_id = ${userId}::uuid`;
  return row ? Number(row.balance) : null;
}

export async function debitsFor(db: SqlPool, orderId: string) {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM ledger_entries WHERE order_id = ${orderId}::uuid`;
  return Number(row!.n);
}

export async function decisionFor(db: SqlPool, orderId: string) {
  const [row] = await db.$queryRaw<{ outcome: string; reason: string | null }[]>`
    SELECT outcome::text AS outcome, reason::text AS reason FROM payment_decisions WHERE order_id = ${orderId}::uuid`;
  return row;
}
