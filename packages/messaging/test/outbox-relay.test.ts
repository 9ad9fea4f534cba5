// The generic outbox relay against a real Postgres (a fresh payments database: any service's outbox has
// the same shape) and the shared Redis under a unique prefix.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { Registry } from "@gozon/core/metrics";
import { freePort, startProcess, waitFor } from "@gozon/core/testing";
import { createPaymentsClient, type PaymentsClient } from "@gozon/db/clients";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "../src/contracts.ts";
import { verifyMessage } from "../src/signing.ts";
import { registerOutboxGauges } from "../src/metrics.ts";
import { writeOutbox } from "../src/outbox.ts";
import { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from "../src/outbox-relay.ts";
import { createRedisConnection, pingRedis, QUEUES } from "../src/queues.ts";
import {
  deleteKeysWithPrefix,
  TEST_MESSAGE_SIGNING_KEY,
  testSigningKey,
  uniqueRedisPrefix,
} from "../test-support/testing.ts";

/**
 * A job's data as a consumer reads it: the message, when it is signed under the run's key (the relay
 * signs the message as the outbox returns it, so the signed text has the JSON column's key order);
 * otherwise why not.
 */
const opened = (data: unknown) => {
  const verified = verifyMessage(testSigningKey, data);
  return verified.ok ? verified.message : verified.error;
};

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const log = createLogger("relay-test", "silent");
const testDir = path.dirname(fileURLToPath(import.meta.url));

let dbs: TestDatabases;
let db: SqlPool;
/** The relay's client: Prisma over `db`'s pool, as in the workers. */
let prisma: PaymentsClient;
let redis: ReturnType<typeof createRedisConnection>;
let queue: Queue;
let resultsQueue: Queue;
const prefix = uniqueRedisPrefix("relay");
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  dbs = await createTestDatabases("relay");
  db = createSqlPool(dbs.urls.payments);
  prisma = createPaymentsClient(db.pool);
  redis = createRedisConnection(REDIS_URL);
  queue = new Queue(QUEUES.paymentRequests, { connection: redis, prefix });
  resultsQueue = new Queue(QUEUES.paymentResults, { connection: redis, prefix });
});

afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  await queue.obliterate({ force: true });
  await resultsQueue.obliterate({ force: true });
  await db.$executeRaw`DELETE FROM outbox`;
});

afterAll(async () => {
  await queue?.close();
  await resultsQueue?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  }
  await prisma?.$disconnect();
  await db?.$disconnect();
  await dbs?.drop();
});

function relay(options: Partial<OutboxRelayOptions> = {}) {
  const created = createOutboxRelay({
    db: prisma,
    databaseUrl: dbs.urls.payments,
    connection: redis,
    prefix,
    signingKey: testSigningKey,
    log,
    pollMs: 60_000, // far beyond every deadline below: a prompt publish proves LISTEN/NOTIFY woke it
    ...options,
  });
  relays.push(created);
  return created;
}

async function addMessages(count: number) {
  const messages = Array.from({ length: count }, (_, i) =>
    buildMessage("PaymentRequested", { orderId: randomUUID(), userId: randomUUID(), amount: i + 1 }),
  );
  for (let i = 0; i < messages.length; i += 50) {
    await Promise.all(messages.slice(i, i + 50).map((message) => writeOutbox(db, message)));
  }
  return messages;
}

/**
 * Makes the job of message `id` impossible to add while Redis answers: a plain string already holds its
 * key, so BullMQ's add script fails with WRONGTYPE for that job alone. Returns the key.
 */
async function poisonJob(id: string) {
  const key = `${prefix}:${QUEUES.paymentRequests}:${id}`;
  await redis.set(key, "not a job");
  return key;
}

type OutboxState = {
  attempts: number;
  failures: number;
  lastError: string | null;
  sentAt: Date | null;
  parkedAt: Date | null;
};

const outboxRow = async (id: string) =>
  (
    await db.$queryRaw<OutboxState[]>`
      SELECT attempts, failures, last_error AS "lastError", sent_at AS "sentAt", parked_at AS "parkedAt"
      FROM outbox WHERE id = ${id}::uuid`
  )[0]!;

const unsentCount = async () =>
  Number((await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL`)[0]!.n);

describe("outbox relay", () => {
  it("publishes a backlog larger than a batch, each job under its message id, and marks every row sent", async () => {
    const messages = await addMessages(230);
    const started = relay({ batchSize: 100 });
    started.start();
    await waitFor(async () => (await unsentCount()) === 0, { what: "every row sent" });

    for (const message of messages.slice(0, 20)) {
      const job = await queue.getJob(message.messageId);
      expect(job?.name).toBe("PaymentRequested");
      expect(opened(job?.data)).toEqual(message);
    }
    expect(await queue.getWaitingCount()).toBe(230);
    const rows = await db.$queryRaw<{ attempts: number; lastError: string | null }[]>`
      SELECT attempts, last_error AS "lastError" FROM outbox`;
    expect(rows.every((row) => row.attempts === 1 && row.lastError === null)).toBe(true);
  });

  it("wakes at once on NOTIFY instead of waiting for its poll", async () => {
    const started = relay();
    started.start();
    await waitFor(() => started.listening, { what: "the relay to LISTEN" });
    await waitFor(async () => (await started.relayOnce()).claimed === 0); // nothing left from before
    const t0 = Date.now();
    const [message] = await addMessages(1);
    await waitFor(() => queue.getJob(message!.messageId), { timeoutMs: 5_000, what: "the job" });
    console.log(`published ${Date.now() - t0} ms after the insert (poll interval 60 s)`);
  });

  it("two relays together publish every one of 2,000 rows written while they run; none is lost", async () => {
    const seen = new Map<string, number>();
    const consumer = new Worker(
      QUEUES.paymentRequests,
      async (job) => {
        seen.set(job.id!, (seen.get(job.id!) ?? 0) + 1);
      },
      { connection: redis.duplicate(), prefix, concurrency: 50 },
    );
    try {
      const a = relay({ batchSize: 50 });
      const b = relay({ batchSize: 50 });
      a.start();
      b.start();
      const t0 = Date.now();
      const messages = await addMessages(2_000);
      await waitFor(() => seen.size === messages.length, { timeoutMs: 60_000, what: "every message" });
      console.log(`2,000 rows through two relays in ${Date.now() - t0} ms`);
      expect(new Set(seen.keys())).toEqual(new Set(messages.map((m) => m.messageId)));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(await unsentCount()).toBe(0);
    } finally {
      await consumer.close();
    }
  });

  it("keeps a row unsent (attempts, last_error) while Redis does not answer, then sends it", async () => {
    const deadRedis = createRedisConnection(`redis://127.0.0.1:${await freePort()}`, "dead", log);
    try {
      const broken = relay({ connection: deadRedis, addTimeoutMs: 300 });
      broken.start();
      const [message] = await addMessages(1);
      const failed = await waitFor(
        async () =>
          (
            await db.$queryRaw<{ attempts: number; lastError: string | null; sentAt: Date | null }[]>`
              SELECT attempts, last_error AS "lastError", sent_at AS "sentAt" FROM outbox
              WHERE id = ${message!.messageId}::uuid AND attempts >= 2`
          )[0],
        { what: "two failed attempts" },
      );
      expect(failed.sentAt).toBeNull();
      expect(failed.lastError).toMatch(/timed out/);
      await broken.stop();

      relay().start();
      await waitFor(async () => (await unsentCount()) === 0, { what: "the row sent by a healthy relay" });
      expect(await queue.getJob(message!.messageId)).toBeTruthy();
      expect((await outboxRow(message!.messageId)).lastError).toBeNull(); // sent: the old error is gone
    } finally {
      deadRedis.disconnect();
    }
  });

  it("survives every connection to its database being killed (as in a Postgres restart) and still wakes at once", async () => {
    const started = relay();
    started.start();
    await waitFor(() => started.listening, { what: "the relay to LISTEN" });
    const admin = new pg.Client({ connectionString: dbs.urls.payments });
    await admin.connect();
    try {
      // The listener reconnects within milliseconds, so watch its backend pid rather than its flag.
      const listenerPid = async () =>
        (
          await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'gozon-listen-gozon_outbox'`,
          )
        ).rows[0]?.pid;
      const before = await waitFor(listenerPid, { what: "the listen connection" });
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      expect(killed.rowCount).toBeGreaterThanOrEqual(2); // the LISTEN connection and the pool's
      await waitFor(
        async () => {
          const now = await listenerPid();
          return now !== undefined && now !== before && started.listening;
        },
        { what: "a new listen connection" },
      );
    } finally {
      await admin.end();
    }
    const [message] = await addMessages(1);
    await waitFor(() => queue.getJob(message!.messageId), { timeoutMs: 5_000, what: "the job" });
  });

  it("keeps rows unsent while its Redis is down and sends them once it is back", async () => {
    const port = await freePort();
    const startRedis = () =>
      startProcess("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
        cwd: testDir,
        env: process.env,
      });
    let server = startRedis();
    await server.waitForOutput(/Ready to accept connections/);
    const privateRedis = createRedisConnection(`redis://127.0.0.1:${port}`, "private", log);
    const privateQueue = new Queue(QUEUES.paymentRequests, { connection: privateRedis, prefix });
    privateQueue.on("error", () => {}); // expected while the server is down
    try {
      const started = relay({ connection: privateRedis, addTimeoutMs: 300 });
      started.start();
      const [before] = await addMessages(1);
      await waitFor(() => privateQueue.getJob(before!.messageId), { what: "the first job" });

      expect(await server.stop("SIGKILL")).toBe("SIGKILL");
      const [during] = await addMessages(1);
      await waitFor(
        async () =>
          (
            await db.$queryRaw<unknown[]>`
              SELECT 1 FROM outbox WHERE id = ${during!.messageId}::uuid AND sent_at IS NULL AND attempts >= 1`
          ).length === 1,
        { what: "a failed attempt while Redis is down" },
      );

      server = startRedis(); // empty: everything queued before is gone, as after a crash without AOF
      await server.waitForOutput(/Ready to accept connections/);
      await waitFor(async () => (await unsentCount()) === 0, { what: "the row sent after the restart" });
      expect(await privateQueue.getJob(during!.messageId)).toBeTruthy();
    } finally {
      await privateQueue.close();
      privateRedis.disconnect();
      await server.stop("SIGKILL");
    }
  });

  it("a relay killed after add and before marking sent leaves the row unsent; the next one re-adds it under the same job id", async () => {
    const [message] = await addMessages(1);
    const crashing = startProcess(
      "node",
      [
        "--import",
        "tsx",
        path.join(testDir, "fixtures/relay-once.ts"),
        "payments",
        dbs.urls.payments,
        REDIS_URL,
        prefix,
      ],
      {
        cwd: testDir,
        env: {
          ...process.env,
          GOZON_FAILPOINTS: "relay-after-add",
          MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
        },
      },
    );
    expect(await crashing.exited).toBe("SIGKILL");
    expect(crashing.output()).toContain("failpoint relay-after-add: SIGKILL");
    expect(await queue.getJob(message!.messageId)).toBeTruthy();
    // The dead transaction's locks are released as soon as Postgres sees the connection drop.
    await waitFor(async () => (await unsentCount()) === 1, { what: "the row to be unsent and unlocked" });

    const again = relay();
    await waitFor(async () => (await again.relayOnce()).sent === 1, { what: "the second relay's pass" });
    expect(await unsentCount()).toBe(0);
    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 1 }); // BullMQ ignored the re-add
  });

  it("purges only sent rows older than the retention, in batches", async () => {
    const messages = await addMessages(30);
    const ids = messages.map((m) => m.messageId);
    await db.$executeRaw`UPDATE outbox SET sent_at = now() - interval '8 days' WHERE id = ANY(${ids.slice(0, 12)}::uuid[])`;
    await db.$executeRaw`UPDATE outbox SET sent_at = now() - interval '6 days' WHERE id = ANY(${ids.slice(12, 20)}::uuid[])`;
    await db.$executeRaw`UPDATE outbox SET created_at = now() - interval '30 days' WHERE id = ANY(${ids.slice(20)}::uuid[])`;
    expect(await relay().purgeSent(7, 5)).toBe(12);
    const left = await db.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM outbox`;
    expect(new Set(left.map((row) => row.id))).toEqual(new Set(ids.slice(12)));
  });
});

describe("outbox relay: batches, failures and parking", () => {
  it("publishes a claimed batch with one addBulk per queue; a job already in Redis is left as it is", async () => {
    const requests = await addMessages(150);
    const results = Array.from({ length: 50 }, (_, i) =>
      buildMessage("PaymentSucceeded", { orderId: randomUUID(), userId: randomUUID(), amount: i + 1 }),
    );
    await Promise.all(results.map((message) => writeOutbox(db, message)));
    // Published by a relay that died before its commit: the re-add must change nothing.
    const before = requests.slice(0, 20);
    for (const message of before)
      await queue.add(message.type, { early: true }, { jobId: message.messageId });

    // Spies that call through: what reaches Redis is real, the spies only count the calls.
    const addBulk = vi.spyOn(Queue.prototype, "addBulk");
    const add = vi.spyOn(Queue.prototype, "add");
    try {
      const pass = await relay({ batchSize: 200 }).relayOnce();
      expect(pass).toEqual({ claimed: 200, sent: 200, failed: 0, parked: 0, redisFailed: false });
      expect(addBulk.mock.calls.map(([jobs]) => jobs.length).sort()).toEqual([150, 50]);
      expect(add).not.toHaveBeenCalled();
    } finally {
      addBulk.mockRestore();
      add.mockRestore();
    }
    expect(await unsentCount()).toBe(0);
    expect(await queue.getWaitingCount()).toBe(150);
    expect(await resultsQueue.getWaitingCount()).toBe(50);
    expect((await queue.getJob(before[0]!.messageId))?.data).toEqual({ early: true });
    expect(opened((await queue.getJob(requests[20]!.messageId))?.data)).toEqual(requests[20]!);
    expect(opened((await resultsQueue.getJob(results[0]!.messageId))?.data)).toEqual(results[0]!);
  });

  it("a row that fails while Redis answers fails alone, and is parked after maxFailures passes", async () => {
    const [poison, ...others] = await addMessages(30);
    const key = await poisonJob(poison!.messageId);
    try {
      const started = relay({ maxFailures: 3 });
      // Its neighbours in the same addBulk go out at the first pass.
      expect(await started.relayOnce()).toEqual({
        claimed: 30,
        sent: 29,
        failed: 1,
        parked: 0,
        redisFailed: false,
      });
      expect(await queue.getWaitingCount()).toBe(29);
      for (const message of others.slice(0, 5)) expect(await queue.getJob(message.messageId)).toBeTruthy();

      expect(await started.relayOnce()).toMatchObject({ claimed: 1, failed: 1, parked: 0 });
      expect(await started.relayOnce()).toMatchObject({ claimed: 1, failed: 1, parked: 1 });
      expect(await started.relayOnce()).toMatchObject({ claimed: 0 }); // parked: out of the claims
      const row = await outboxRow(poison!.messageId);
      expect(row).toMatchObject({ attempts: 3, failures: 3, sentAt: null });
      expect(row.parkedAt).toBeInstanceOf(Date);
      expect(row.lastError).toMatch(/WRONGTYPE/);

      const registry = new Registry();
      registerOutboxGauges(registry, db);
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/^gozon_outbox_parked 1$/m);
      expect(metrics).toMatch(/^gozon_outbox_backlog 0$/m); // parked rows are not a backlog
    } finally {
      await redis.del(key);
    }
  });

  it("a row that keeps failing does not slow the others down (no global backoff for it)", async () => {
    const [poison] = await addMessages(1);
    const key = await poisonJob(poison!.messageId);
    try {
      const started = relay({ maxFailures: 1_000 });
      started.start();
      await waitFor(() => started.listening, { what: "the relay to LISTEN" });
      const latencies: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t0 = Date.now();
        const [message] = await addMessages(1);
        await waitFor(() => queue.getJob(message!.messageId), { timeoutMs: 15_000, what: "the job" });
        latencies.push(Date.now() - t0);
      }
      console.log(`beside a failing row: published after ${latencies.join(", ")} ms`);
      // A global backoff would reach 3.2 s by the sixth failed pass (100 ms doubling); this leaves room
      // for a slow host without letting one through.
      expect(Math.max(...latencies)).toBeLessThan(2_500);
      expect((await outboxRow(poison!.messageId)).failures).toBeGreaterThanOrEqual(8);
    } finally {
      await redis.del(key);
    }
  });

  it("while Redis does not answer nothing is parked, and the relay backs off as a whole", async () => {
    const deadRedis = createRedisConnection(`redis://127.0.0.1:${await freePort()}`, "dead", log);
    try {
      const [message] = await addMessages(1);
      const passes = relay({ connection: deadRedis, addTimeoutMs: 200, maxFailures: 2 });
      for (let i = 0; i < 3; i++) {
        expect(await passes.relayOnce()).toEqual({
          claimed: 1,
          sent: 0,
          failed: 1,
          parked: 0,
          redisFailed: true,
        });
      }
      expect(await outboxRow(message!.messageId)).toMatchObject({ attempts: 3, failures: 0, parkedAt: null });

      // Rows keep arriving (each a NOTIFY), yet passes come at a growing interval, not at each wake-up.
      const started = relay({ connection: deadRedis, addTimeoutMs: 100, maxFailures: 2 });
      started.start();
      await waitFor(() => started.listening, { what: "the relay to LISTEN" });
      const t0 = Date.now();
      while (Date.now() - t0 < 3_000) {
        await addMessages(1);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const { attempts } = await outboxRow(message!.messageId);
      console.log(`3 s of a dead Redis with a NOTIFY every 100 ms: ${attempts - 3} passes`);
      expect(attempts - 3).toBeLessThanOrEqual(8);
      expect(await outboxRow(message!.messageId)).toMatchObject({ failures: 0, parkedAt: null });
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
      deadRedis.disconnect();
    }
  });

  it("while Redis refuses writes but answers PING (out of memory, noeviction), nothing is parked", async () => {
    // A Redis of this test's own: its memory limit must not refuse anyone else's writes.
    const port = await freePort();
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
      { stdio: "ignore" },
    );
    const full = createRedisConnection(`redis://127.0.0.1:${port}`, "full", log);
    try {
      await pingRedis(full, 10_000);
      await full.config("SET", "maxmemory", "1");
      const messages = await addMessages(3);
      const passes = relay({ connection: full, maxFailures: 2 });
      for (let i = 0; i < 4; i++) {
        expect(await passes.relayOnce()).toMatchObject({ claimed: 3, sent: 0, parked: 0, redisFailed: true });
      }
      for (const message of messages) {
        expect(await outboxRow(message.messageId)).toMatchObject({ failures: 0, parkedAt: null });
      }
      await full.config("SET", "maxmemory", "0");
      expect(await passes.relayOnce()).toMatchObject({ claimed: 3, sent: 3 });
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
      full.disconnect();
      server.kill("SIGKILL");
    }
  });

  it("rows refused for a key of the queue (broken by another hand) are not counted, a lone one neither; their own key broken, they are", async () => {
    // BullMQ appends an event to the queue's stream with every add: as a string, every add fails.
    const events = `${prefix}:${QUEUES.paymentRequests}:events`;
    await redis.del(events);
    await redis.set(events, "not a stream");
    const passes = relay({ maxFailures: 2 });
    const [alone] = await addMessages(1);
    try {
      for (let i = 0; i < 3; i++) {
        expect(await passes.relayOnce()).toMatchObject({ claimed: 1, sent: 0, parked: 0, redisFailed: true });
      }
      await addMessages(4);
      expect(await passes.relayOnce()).toMatchObject({ claimed: 5, sent: 0, parked: 0, redisFailed: true });
      expect(await outboxRow(alone!.messageId)).toMatchObject({ failures: 0, parkedAt: null });
    } finally {
      await redis.del(events);
    }
    expect(await passes.relayOnce()).toMatchObject({ claimed: 5, sent: 5 });

    // Two rows whose own job keys are broken, alone in their batch and refused alike: theirs is the fault.
    const poisoned = await addMessages(2);
    const keys = await Promise.all(poisoned.map((message) => poisonJob(message.messageId)));
    try {
      expect(await passes.relayOnce()).toMatchObject({ claimed: 2, failed: 2, redisFailed: false });
      expect(await passes.relayOnce()).toMatchObject({ claimed: 2, failed: 2, parked: 2 });
    } finally {
      await redis.del(...keys);
    }
  });

  it("a parked row gets one more try after parkedRetryMs: parked again if it still fails, sent once it can be", async () => {
    const [message] = await addMessages(1);
    const key = await poisonJob(message!.messageId);
    const started = relay({ maxFailures: 2, parkedRetryMs: 60_000 });
    await started.relayOnce();
    expect(await started.relayOnce()).toMatchObject({ parked: 1 });
    expect(await started.retryParked()).toBe(0); // not cooled down yet
    const cooledDown = () =>
      db.$executeRaw`UPDATE outbox SET parked_at = now() - interval '2 minutes' WHERE parked_at IS NOT NULL`;

    await cooledDown();
    expect(await started.retryParked()).toBe(1);
    expect(await started.relayOnce()).toMatchObject({ claimed: 1, failed: 1, parked: 1 }); // at once

    await cooledDown();
    await redis.del(key);
    expect(await started.retryParked()).toBe(1);
    expect(await started.relayOnce()).toMatchObject({ claimed: 1, sent: 1 });
    const row = await outboxRow(message!.messageId);
    expect(row).toMatchObject({ parkedAt: null, lastError: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(opened((await queue.getJob(message!.messageId))?.data)).toEqual(message!);
  });
});
